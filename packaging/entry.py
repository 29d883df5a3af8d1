"""Entry script of the frozen Batchmill program (PyInstaller runs this as __main__).

The bootstrap comes first, before any other import: in a frozen build each
worker process is this same executable started with ``--multiprocessing-fork``,
and ``bootstrap()`` (``multiprocessing.freeze_support()``) turns it into a
worker there and then, instead of a second copy of the app."""

from batchmill.core.bootstrap import bootstrap

bootstrap()

import sys  # noqa: E402

from batchmill.gui.launcher import dispatch  # noqa: E402

sys.exit(dispatch(sys.argv[1:]))
