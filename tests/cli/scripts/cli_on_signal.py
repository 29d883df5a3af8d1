"""The batchmill CLI, started, imported and then held until a line arrives on stdin: so that two
of them open a fresh journal at the same moment (tests/cli/test_fresh_journal_race.py)."""

import sys

from batchmill.gui.launcher import main

if __name__ == "__main__":
    sys.stdin.readline()
    sys.exit(main(sys.argv[1:]))
