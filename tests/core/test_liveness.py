"""A job's owner is alive when its pid runs *and* started when the journal says it did: a pid
reused by an unrelated process is not the owner. No ``os.kill(pid, 0)`` (CTRL_C_EVENT on Windows)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from batchmill.core.engine import make_scratch_root
from batchmill.core.events import JobState
from batchmill.core.journal import Journal
from batchmill.core.liveness import pid_alive, scratch_owner, start_time
from batchmill.core.spec import JobSpec


@pytest.fixture
def stranger() -> Iterator[subprocess.Popen[bytes]]:
    """An unrelated live process: what a reused pid points at."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield process
    process.kill()
    process.wait()


REAL_KILL = os.kill


def no_signal_zero(pid: int, sig: int) -> None:
    if sig == 0:
        raise AssertionError(f"os.kill({pid}, 0) used to test liveness (CTRL_C_EVENT on Windows)")
    REAL_KILL(pid, sig)


def test_a_live_pid_with_its_own_start_time_is_alive(stranger: subprocess.Popen[bytes],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "kill", no_signal_zero)
    started = psutil.Process(stranger.pid).create_time()
    assert pid_alive(stranger.pid) and pid_alive(stranger.pid, started)
    assert pid_alive(os.getpid(), start_time())


def test_a_reused_pid_with_another_start_time_is_not_the_owner(stranger: subprocess.Popen[bytes]) -> None:
    started = psutil.Process(stranger.pid).create_time()
    assert not pid_alive(stranger.pid, started - 3600)  # the owner started an hour before this process
    assert not pid_alive(stranger.pid, started + 5)


@pytest.mark.skipif(sys.platform == "win32", reason="no zombies there")
def test_a_zombie_and_a_dead_pid_are_dead() -> None:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)  # it has exited; not reaped: a zombie
    assert psutil.Process(process.pid).status() == psutil.STATUS_ZOMBIE
    assert not pid_alive(process.pid)
    process.wait()
    assert not pid_alive(process.pid)


def make_job(journal: Journal, tmp_path: Path) -> str:
    spec = JobSpec(processor="checksum", inputs=(str(tmp_path),), output=str(tmp_path / "out"))
    journal.create_job("job1", spec, "checksum", None, None, [True])
    journal.set_job_state("job1", JobState.RUNNING)
    return "job1"


def test_a_running_job_whose_pid_was_reused_reads_as_interrupted(tmp_path: Path,
                                                                 stranger: subprocess.Popen[bytes]) -> None:
    journal = Journal(tmp_path / "home")
    job_id = make_job(journal, tmp_path)
    assert journal.get_job(job_id).shown_state is JobState.RUNNING  # type: ignore[union-attr]
    assert journal.get_job(job_id).owner_started == pytest.approx(start_time())  # type: ignore[union-attr]
    real = psutil.Process(stranger.pid).create_time()

    def own(pid: int, started: float | None) -> JobState:
        with journal._write() as db:
            db.execute("UPDATE jobs SET owner_pid = ?, owner_started = ? WHERE id = ?", (pid, started, job_id))
        job = journal.get_job(job_id)
        assert job is not None
        return job.shown_state

    assert own(stranger.pid, real) is JobState.RUNNING
    assert own(stranger.pid, real - 86_400.0) is JobState.INTERRUPTED  # the fake start time: a reused pid
    assert own(stranger.pid, None) is JobState.RUNNING  # a journal from before 0.3: the pid alone decides
    journal.close()


def test_scratch_folders_of_a_reused_pid_are_cleaned_and_a_live_ones_kept(tmp_path: Path,
                                                                          stranger: subprocess.Popen[bytes]) -> None:
    real = psutil.Process(stranger.pid).create_time()
    mine = Path(make_scratch_root())
    base = mine.parent
    live = base / f"{stranger.pid}-{real:.0f}-live"
    reused = base / f"{stranger.pid}-{real - 86_400:.0f}-reused"
    for folder in (live, reused):
        folder.mkdir()
    assert scratch_owner(mine.name) == (os.getpid(), pytest.approx(start_time(), abs=1))
    assert scratch_owner("123-abcdefgh") == (123, None)
    again = Path(make_scratch_root())
    try:
        assert live.exists() and mine.exists()
        assert not reused.exists()
    finally:
        for folder in (live, mine, again):
            folder.rmdir()
