"""``python -m batchmill``: the same program as the ``batchmill`` command (window or CLI)."""

import sys

from batchmill.gui.launcher import main

sys.exit(main())
