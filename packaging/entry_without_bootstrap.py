"""A deliberately broken entry script, for the test that proves the bootstrap necessary.

It skips ``batchmill.core.bootstrap.bootstrap()``. Frozen, every worker process then
re-enters this script with ``--multiprocessing-fork`` arguments instead of
becoming a worker. Never ship it: only tests/packaging builds it."""

import sys

from batchmill.gui.launcher import dispatch

sys.exit(dispatch(sys.argv[1:]))
