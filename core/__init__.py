"""Batchmill's engine: jobs, worker pool, journal and processors. No Qt in here."""

# The one version source (pyproject reads it). 0.2: one import package, ``batchmill``.
__version__ = "0.2.0"
