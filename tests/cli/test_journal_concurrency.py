"""Several Batchmill processes share one journal: no ``database is locked`` reaches anyone.

Two ``batchmill run`` processes on different inputs of tiny files (so the
journal takes a write every flush) and a loop of ``batchmill jobs`` all start at
once on a fresh BATCHMILL_HOME, so they also race to create the schema. Another
program (this test) keeps taking the journal's write lock for a moment, as a
window saving a big batch of rows would, so the runs must wait for it, not fail.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

SCRIPT = Path(__file__).parent / "scripts" / "journal_tiny_copy.py"
FILES_PER_RUN = 3000
DELAY_S = 0.001  # per file: each run lasts a few seconds, all of them overlapping
LOCK_HOLD_S, LOCK_GAP_S = 0.2, 0.3
RUN_TIMEOUT_S = 90.0
PROBLEMS = ("database is locked", "Traceback", "OperationalError", "DatabaseError", "malformed")


def batchmill_command() -> list[str]:
    console_script = Path(sys.executable).with_name("batchmill")
    if console_script.exists():
        return [str(console_script)]
    return [sys.executable, "-m", "batchmill.gui.launcher"]


def make_tiny_inputs(folder: Path, count: int) -> None:
    folder.mkdir(parents=True)
    for n in range(count):
        (folder / f"t{n:05d}.txt").write_bytes(b"%d\n" % n)


def start_run(inputs: Path, output: Path) -> subprocess.Popen[str]:
    command = batchmill_command() + ["run", "python", str(inputs), "--output", str(output), "--workers", "1",
                                     "--param", f"script={SCRIPT}", "--param", f"delay={DELAY_S}", "--json"]
    return subprocess.Popen(command, env=os.environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


class LockHolder:
    """Takes the journal's write lock (BEGIN IMMEDIATE) for LOCK_HOLD_S every LOCK_GAP_S."""

    def __init__(self, journal: Path) -> None:
        self.journal = journal
        self.held = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop, name="lock-holder")

    def loop(self) -> None:
        while not self.stop.wait(LOCK_GAP_S):
            if not self.journal.exists():
                continue
            db = sqlite3.connect(self.journal, timeout=30, isolation_level=None)
            try:
                db.execute("BEGIN IMMEDIATE")
                time.sleep(LOCK_HOLD_S)
                db.execute("COMMIT")
                self.held += 1
            finally:
                db.close()


class JobsLoop:
    """Runs ``batchmill jobs`` over and over until stopped, keeping every result."""

    def __init__(self) -> None:
        self.results: list[subprocess.CompletedProcess[str]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop, name="jobs-loop")

    def loop(self) -> None:
        while not self.stop.is_set():
            self.results.append(subprocess.run(batchmill_command() + ["jobs", "--json"], env=os.environ,
                                               capture_output=True, text=True, timeout=RUN_TIMEOUT_S))


def test_two_runs_and_a_jobs_loop_share_one_journal(tmp_path: Path, batchmill_home: Path) -> None:
    assert not batchmill_home.exists(), "the journal must be created by the racing processes"
    for name in ("a", "b"):
        make_tiny_inputs(tmp_path / name, FILES_PER_RUN)
    jobs_loop = JobsLoop()
    jobs_loop.thread.start()
    lock_holder = LockHolder(batchmill_home / "journal.sqlite3")
    lock_holder.thread.start()
    runs = {name: start_run(tmp_path / name, tmp_path / f"out-{name}") for name in ("a", "b")}
    try:
        outputs = {name: proc.communicate(timeout=RUN_TIMEOUT_S) for name, proc in runs.items()}
        time.sleep(0.3)  # a last `jobs` or two against the finished journal
    finally:
        jobs_loop.stop.set()
        lock_holder.stop.set()
        jobs_loop.thread.join(RUN_TIMEOUT_S)
        lock_holder.thread.join(RUN_TIMEOUT_S)
        for proc in runs.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()

    for name, (out, err) in outputs.items():
        assert [p for p in PROBLEMS if p in err] == [], f"run {name}:\n{err}"
        assert runs[name].returncode == 0, f"run {name}:\n{err}"
        report = json.loads(out)
        assert (report["state"], report["done"], report["total"]) == ("completed", FILES_PER_RUN, FILES_PER_RUN)
    assert lock_holder.held >= 3, "the runs should have met the lock holder several times"
    assert len(jobs_loop.results) >= 3, "the jobs loop should have run all along"
    for listing in jobs_loop.results:
        assert [p for p in PROBLEMS if p in listing.stderr] == [], listing.stderr
        assert listing.returncode == 0, listing.stderr
        json.loads(listing.stdout)

    db = sqlite3.connect(batchmill_home / "journal.sqlite3", timeout=30)
    try:
        for name in ("a", "b"):
            (job_id,) = db.execute("SELECT id FROM jobs WHERE spec LIKE ?", (f'%"{tmp_path / name}"%',)).fetchone()
            states = db.execute("SELECT state, count(*) FROM files WHERE job_id = ? GROUP BY state", (job_id,))
            assert states.fetchall() == [("done", FILES_PER_RUN)]
            row = db.execute("SELECT state, total, done, failed FROM jobs WHERE id = ?", (job_id,)).fetchone()
            assert row == ("completed", FILES_PER_RUN, FILES_PER_RUN, 0)
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT count(*) FROM jobs").fetchone() == (2,)
    finally:
        db.close()
    for name in ("a", "b"):
        assert len(list((tmp_path / f"out-{name}" / name).iterdir())) == FILES_PER_RUN
