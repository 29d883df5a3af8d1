"""Batchmill's engine: jobs, worker pool, journal and processors. No Qt in here."""

__version__ = "0.1.0"
