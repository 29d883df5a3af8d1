"""``python -m batchmill``: the same program as the ``batchmill`` command (window or CLI)."""

from batchmill.gui.launcher import program

program()
