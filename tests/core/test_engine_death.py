"""The engine thread never dies silently (issue 12 item 6).

A failure of the journal or of the engine itself ends the job — with a finished event, a message
and the error state, whatever step it hit and even when the engine's own error handling fails
too — and a front end waiting on the engine learns that its thread has stopped.

The journal's failures are made at the outermost edge: a Journal whose writes raise what SQLite
raises when its disk is full. Everything else is real (spawn workers, files, SQLite).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import targets
from batchmill.core.engine import Engine
from batchmill.core.events import EngineStopped, JobFinished, JobState
from batchmill.core.jobrun import JobRun
from batchmill.core.journal import Journal
from batchmill.core.spec import JobSpec
from engine_driver import Recorder, leftovers, make_inputs

pytestmark = pytest.mark.timeout(90)

DISK_FULL = "database or disk is full"


@pytest.fixture(autouse=True)
def test_processors(monkeypatch: pytest.MonkeyPatch) -> None:
    targets.register(monkeypatch)


class FillingJournal(Journal):
    """A journal whose disk fills: every write named in ``failing`` raises once ``after`` writes of
    that name went through (``always``: the engine's own error handling cannot write either)."""

    def __init__(self, home: Path, failing: set[str], after: int = 0, always: bool = False) -> None:
        super().__init__(home)
        self.failing, self.after, self.always = failing, after, always
        self.calls: dict[str, int] = {}
        self.full = False

    def _maybe_fail(self, name: str) -> None:
        if self.full and self.always:
            raise sqlite3.OperationalError(DISK_FULL)
        if name in self.failing:
            self.calls[name] = self.calls.get(name, 0) + 1
            if self.calls[name] > self.after:
                self.full = True
                raise sqlite3.OperationalError(DISK_FULL)

    def add_files(self, *args: Any, **kwargs: Any) -> None:
        self._maybe_fail("add_files")
        super().add_files(*args, **kwargs)

    def record_files(self, *args: Any, **kwargs: Any) -> None:
        self._maybe_fail("record_files")
        super().record_files(*args, **kwargs)

    def store_counts(self, *args: Any, **kwargs: Any) -> None:
        self._maybe_fail("store_counts")
        super().store_counts(*args, **kwargs)

    def set_job_state(self, *args: Any, **kwargs: Any) -> None:
        self._maybe_fail("set_job_state")
        super().set_job_state(*args, **kwargs)


def spec_for(tmp_path: Path, target: str = "copy_upper", **options: Any) -> JobSpec:
    return JobSpec("test-target", (str(tmp_path / "in"),), str(tmp_path / "out"),
                   params={"target": target, "marker_dir": str(tmp_path), **options.pop("params", {})},
                   **{"workers": 2, **options})


def finish(engine: Engine, job_id: str) -> tuple[JobFinished, Recorder]:
    recorder = Recorder(engine)
    return recorder.wait_for(JobFinished, lambda e: e.job_id == job_id), recorder


@pytest.mark.parametrize("failing, always", [
    ({"add_files"}, False),  # the disk fills during the scan
    ({"add_files"}, True),  # ... and the engine cannot record the error either
    ({"record_files"}, False),  # while files finish
    ({"record_files", "store_counts", "set_job_state"}, True),  # at every write from then on
])
def test_a_journal_that_fills_up_ends_the_job_with_a_message(tmp_path: Path, failing: set[str],
                                                              always: bool) -> None:
    make_inputs(tmp_path / "in", good=40, bad=())
    journal = FillingJournal(tmp_path / "home", failing, after=0, always=always)
    with Engine(journal=journal) as engine:
        job_id = engine.submit(spec_for(tmp_path, params={"delay": 0.01}))
        finished, recorder = finish(engine, job_id)
        stopped = recorder.wait_for(EngineStopped)

    assert finished.state is JobState.ERROR
    assert finished.error is not None and DISK_FULL in finished.error and str(journal.path) in finished.error
    assert stopped.error == finished.error
    assert leftovers(tmp_path / "out") == []


def test_jobs_queued_behind_a_failed_engine_finish_too(tmp_path: Path) -> None:
    make_inputs(tmp_path / "in", good=6, bad=())
    journal = FillingJournal(tmp_path / "home", {"add_files"}, after=0, always=True)
    with Engine(journal=journal) as engine:
        first = engine.submit(spec_for(tmp_path))
        second = engine.submit(spec_for(tmp_path, params={"delay": 0.001}))
        recorder = Recorder(engine)
        ends = {job: recorder.wait_for(JobFinished, lambda e, job=job: e.job_id == job) for job in (first, second)}

    assert {job: end.state for job, end in ends.items()} == {first: JobState.ERROR, second: JobState.ERROR}
    assert ends[second].error is not None and DISK_FULL in ends[second].error  # not started, or failed itself


def test_a_bug_in_the_engine_ends_the_job_and_stops_every_worker(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    make_inputs(tmp_path / "in", good=10, bad=())

    def broken(self: JobRun, message: Any) -> None:
        raise KeyError("a bug in the bookkeeping")

    monkeypatch.setattr(JobRun, "on_results", broken)
    with Engine(tmp_path / "home") as engine:
        job_id = engine.submit(spec_for(tmp_path))
        finished, recorder = finish(engine, job_id)
        recorder.wait_for(EngineStopped)
        job = engine.journal.get_job(job_id)

    assert finished.state is JobState.ERROR
    assert finished.error == "unexpected engine error: KeyError: 'a bug in the bookkeeping'"
    assert job is not None and job.state is JobState.ERROR and job.error == finished.error
    # the leak check (conftest) proves every worker process is gone


def test_the_engine_still_takes_jobs_after_its_thread_stopped(tmp_path: Path) -> None:
    make_inputs(tmp_path / "in", good=4, bad=())
    journal = FillingJournal(tmp_path / "home", {"add_files"}, after=0)
    with Engine(journal=journal) as engine:
        failed, _ = finish(engine, engine.submit(spec_for(tmp_path)))
        journal.failing = set()
        done, _ = finish(engine, engine.submit(spec_for(tmp_path)))

    assert failed.state is JobState.ERROR
    assert done.state is JobState.COMPLETED and done.done == 4


def test_a_follower_learns_of_an_engine_thread_that_is_gone() -> None:
    """The net under EngineStopped: a thread that vanished without a word still ends the CLI's wait."""
    import queue

    from batchmill.core.events import Event, JobStarted
    from batchmill.core.report import Follower

    events: queue.SimpleQueue[Event] = queue.SimpleQueue()
    events.put(JobStarted("job1", 10, 0, 0, 0, 2))
    follower = Follower("job1", quiet=True)

    outcome = follower.follow(events, alive=lambda: False)

    assert (outcome.state, outcome.error) == (JobState.ERROR, "the engine stopped before the job finished")
    assert outcome.exit_code() == 2
