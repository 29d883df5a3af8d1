"""Batchmill's PySide6 front end. Importing this package does not import Qt."""
