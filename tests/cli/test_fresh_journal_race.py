"""Issue 12, item 11: two CLIs started together on a fresh journal both work. They used to fail
now and then with ``database is locked`` at ``PRAGMA journal_mode=WAL``, a traceback and exit 1
(4 of 40, 1 of 20, 1 of 9 in three series).

Each round makes a fresh BATCHMILL_HOME and starts two ``batchmill jobs``; both are held after
their imports until the test releases them at once, so their journal openings really overlap."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROUNDS = 200
HELD_CLI = Path(__file__).parent / "scripts" / "cli_on_signal.py"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def start_held(home: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(HELD_CLI), "jobs"], env={**os.environ, "BATCHMILL_HOME": str(home)},
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_hundred_double_starts_on_a_fresh_journal_all_succeed(tmp_path: Path) -> None:
    failures = []
    for round_ in range(ROUNDS):
        home = tmp_path / f"home-{round_:03d}"
        pair = [start_held(home), start_held(home)]
        for proc in pair:  # both are waiting, imports done: let them go together
            assert proc.stdin is not None
            proc.stdin.write("go\n")
        for proc in pair:
            assert proc.stdin is not None
            proc.stdin.close()
        for proc in pair:
            assert proc.stdout is not None and proc.stderr is not None
            out, err = proc.stdout.read(), proc.stderr.read()  # a line or two each: no pipe fills
            proc.wait(timeout=120)
            if proc.returncode != 0 or out.strip() != "no jobs yet" or err:
                failures.append((round_, proc.returncode, err.strip().splitlines()[-1:] if err else out))
    print(f"{2 * ROUNDS} CLI starts on {ROUNDS} fresh journals: {len(failures)} failed")
    assert failures == []
