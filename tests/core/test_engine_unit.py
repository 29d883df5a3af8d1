"""The engine loop and the job ledger without processes: a scripted fake backend.

Real workers cannot produce these sequences on demand — a batch lost after its current file was
already reported, a partial report repeated by the final one, deaths in a row with and without a
file to blame, a journal that fails at one exact step — so a ``ScriptedBackend`` answers every
batch the engine sends with the messages a test scripts, in milliseconds. The engine, the job
ledger (JobRun), the journal (real SQLite) and the scan (real files) are the real ones; only the
outermost edge, the processes, is faked. The real-process tests live beside this file.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import sqlite3
from collections import Counter, deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import targets
from batchmill.core import engine as engine_module
from batchmill.core.backends.base import Backend, BackendSettings, Lost, WorkerGone, WorkerNow
from batchmill.core.engine import Engine
from batchmill.core.events import (
    EngineStopped, FailureKind, FileFailed, FileStatus, JobFinished, JobState,
)
from batchmill.core.journal import Journal
from batchmill.core.messages import Failure, Results, RunBatch
from batchmill.core.spec import JobSpec
from engine_driver import Recorder

pytestmark = pytest.mark.timeout(60)

Script = Callable[[RunBatch, "ScriptedBackend"], list[object]]
DIED = Failure(FailureKind.WORKER_DIED, "the worker process was killed by SIGSEGV while processing this file")


class ScriptedBackend(Backend):
    """Answers each batch with ``script(batch, self)``: the messages the engine then collects,
    one ``collect()`` each, in order (so a partial report and a loss arrive as separate news)."""

    name = "scripted"

    def __init__(self, script: Script, slots: int = 2) -> None:
        self.script = script
        self.slots = slots
        self.sent: list[RunBatch] = []
        self.outstanding: set[int] = set()
        self.news: deque[object] = deque()
        self._read, self._write = multiprocessing.Pipe(duplex=False)

    # what the engine calls
    def configure(self, settings: BackendSettings) -> None:
        self.settings = settings

    def waitables(self) -> list[Any]:
        return [self._read]

    def collect(self, ready: list[Any]) -> list[tuple[int, object]]:
        while self._read.poll():
            self._read.recv_bytes()
        if not self.news:
            return []
        message = self.news.popleft()
        if self.news:
            self._write.send_bytes(b"!")  # more to come: the next wait() returns at once
        if isinstance(message, Lost) or (isinstance(message, Results) and message.batch_done):
            self.outstanding.discard(message.batch_id)
        return [(1, message)]

    def capacity(self) -> int:
        return self.slots - len(self.outstanding)

    def max_batch(self) -> int | None:
        return None

    def send(self, batch: RunBatch) -> None:
        self.sent.append(batch)
        self.outstanding.add(batch.batch_id)
        for message in self.script(batch, self):
            self.news.append(message)
        self._write.send_bytes(b"!")

    def abort(self, reason: str = "stopped") -> list[tuple[int, object]]:
        lost = [(1, Lost(batch_id, None, None)) for batch_id in sorted(self.outstanding)]
        self.outstanding.clear()
        self.news.clear()
        return lost

    def next_deadline(self) -> float | None:
        return None

    def status(self) -> list[WorkerNow]:
        return []

    def shutdown(self) -> None:
        self.outstanding.clear()


# -- scripts ------------------------------------------------------------------------------------
def done(batch: RunBatch, ids: tuple[int, ...] | None = None, batch_done: bool = True,
         failures: tuple[tuple[int, Failure], ...] = ()) -> Results:
    ids = batch.file_ids if ids is None else ids
    return Results(batch.batch_id, ids, tuple(0.001 for _ in ids), tuple(f"value {i}" for i in ids),
                   tuple(1 for _ in ids), tuple(False for _ in ids), failures, batch_done)


def all_done(batch: RunBatch, backend: ScriptedBackend) -> list[object]:
    return [done(batch)]


@pytest.fixture(autouse=True)
def test_processors(monkeypatch: pytest.MonkeyPatch) -> None:
    targets.register(monkeypatch)


@pytest.fixture
def use_backend(monkeypatch: pytest.MonkeyPatch) -> Callable[[ScriptedBackend], ScriptedBackend]:
    def install(backend: ScriptedBackend) -> ScriptedBackend:
        monkeypatch.setattr(engine_module, "LocalBackend", lambda context, scratch: backend)
        return backend

    return install


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(12):
        (folder / f"{i:02d}.txt").write_text(str(i))
    return folder


def spec_for(inputs: Path, **options: Any) -> JobSpec:
    return JobSpec("test-target", (str(inputs),), str(inputs.parent / "out"), params={"target": "copy_upper"},
                   **{"workers": 1, **options})


def run_with(engine: Engine, spec: JobSpec) -> tuple[JobFinished, Recorder]:
    recorder = Recorder(engine)
    job_id = engine.submit(spec)
    return recorder.wait_for(JobFinished, lambda e: e.job_id == job_id, timeout=20), recorder


def journal_states(engine: Engine, job_id: str) -> Counter[FileStatus]:
    job = engine.journal.get_job(job_id)
    states = Counter(r.state for r in engine.journal.files(job_id))
    assert job is not None and (job.done, job.failed) == (states[FileStatus.DONE], states[FileStatus.FAILED])
    return states


# -- sequences ----------------------------------------------------------------------------------
def test_a_lost_batch_whose_current_file_was_already_reported(use_backend: Any, inputs: Path,
                                                               batchmill_home: Path) -> None:
    """Files 0 and 1 are reported, then the worker dies with its slot still on file 1: file 1
    stays done (never failed, never counted twice), the unreported rest go out again."""
    lost: list[RunBatch] = []

    def script(batch: RunBatch, backend: ScriptedBackend) -> list[object]:
        if not lost and len(batch) >= 3:
            lost.append(batch)
            first, second = batch.file_ids[:2]
            return [done(batch, (first, second), batch_done=False), Lost(batch.batch_id, second, DIED)]
        return [done(batch)]

    backend = use_backend(ScriptedBackend(script, slots=1))
    with Engine(batchmill_home) as engine:
        finished, recorder = run_with(engine, spec_for(inputs))
        states = journal_states(engine, finished.job_id)

    assert lost, [len(b) for b in backend.sent]
    assert (finished.state, finished.done, finished.failed) == (JobState.COMPLETED, 12, 0)
    assert recorder.events and not [e for e in recorder.events if isinstance(e, FileFailed)]
    assert states[FileStatus.DONE] == 12
    sent = Counter(i for batch in backend.sent for i in batch.file_ids)
    again = set(lost[0].file_ids[2:])
    assert all(sent[i] == (2 if i in again else 1) for i in range(12)), sent


def test_a_partial_report_repeated_by_the_final_one_counts_once(use_backend: Any, inputs: Path,
                                                                 batchmill_home: Path) -> None:
    def script(batch: RunBatch, backend: ScriptedBackend) -> list[object]:
        return [done(batch, batch.file_ids[:1], batch_done=False), done(batch, batch.file_ids[:1], False),
                done(batch)]

    use_backend(ScriptedBackend(script))
    with Engine(batchmill_home) as engine:
        finished, _ = run_with(engine, spec_for(inputs))
        states = journal_states(engine, finished.job_id)

    assert (finished.done, finished.total) == (12, 12) and states[FileStatus.DONE] == 12


def test_a_retried_file_is_done_at_its_second_attempt(use_backend: Any, inputs: Path, batchmill_home: Path) -> None:
    tried: Counter[int] = Counter()

    def script(batch: RunBatch, backend: ScriptedBackend) -> list[object]:
        failures = []
        for i in batch.file_ids:
            tried[i] += 1
            if i == 0 and tried[i] == 1:
                failures.append((i, Failure(FailureKind.PROCESSOR_ERROR, "processor raised OSError: flaky")))
        return [done(batch, failures=tuple(failures))]

    use_backend(ScriptedBackend(script))
    with Engine(batchmill_home) as engine:
        finished, recorder = run_with(engine, spec_for(inputs, retries=1))
        [record] = [r for r in engine.journal.files(finished.job_id) if r.idx == 0]

    assert (finished.done, finished.failed) == (12, 0)
    assert [(e.attempt, e.will_retry) for e in recorder.events if isinstance(e, FileFailed)] == [(1, True)]
    assert (record.state, record.attempts) == (FileStatus.DONE, 2)


def test_deaths_pinned_on_files_never_end_the_job_but_unexplained_ones_do(use_backend: Any, inputs: Path,
                                                                           batchmill_home: Path) -> None:
    def pinned(batch: RunBatch, backend: ScriptedBackend) -> list[object]:
        return [Lost(batch.batch_id, batch.file_ids[0], DIED)]  # every batch's first file crashes

    backend = use_backend(ScriptedBackend(pinned, slots=1))
    with Engine(batchmill_home) as engine:
        finished, _ = run_with(engine, spec_for(inputs))
    assert finished.state is JobState.COMPLETED and finished.failed == len(backend.sent) and finished.done == 12 - finished.failed


def test_workers_that_die_before_any_file_end_the_job_saying_so(use_backend: Any, inputs: Path,
                                                                 batchmill_home: Path) -> None:
    def unexplained(batch: RunBatch, backend: ScriptedBackend) -> list[object]:
        return [Lost(batch.batch_id, None, None, unexplained=True),
                WorkerGone(1, 4242, "the worker process exited with code 1", False)]

    use_backend(ScriptedBackend(unexplained, slots=1))
    with Engine(batchmill_home) as engine:
        finished, _ = run_with(engine, spec_for(inputs))
        states = journal_states(engine, finished.job_id)
    assert finished.state is JobState.ERROR
    assert finished.error == ("worker processes keep dying before they start on a file "
                              "(the worker process exited with code 1)")
    assert states[FileStatus.PENDING] == 12  # resumable: nothing is blamed on a file


def test_halt_after_counts_only_this_sessions_failures_on_resume(use_backend: Any, inputs: Path,
                                                                  batchmill_home: Path) -> None:
    failing = {"on": True}

    def script(batch: RunBatch, backend: ScriptedBackend) -> list[object]:
        failures = tuple((i, Failure(FailureKind.PROCESSOR_ERROR, "processor raised ValueError: no"))
                         for i in batch.file_ids if failing["on"] and i < 2)
        return [done(batch, failures=failures)]

    use_backend(ScriptedBackend(script, slots=1))
    with Engine(batchmill_home) as engine:
        halted, _ = run_with(engine, spec_for(inputs, halt_after="2"))
        assert halted.state is JobState.HALTED and halted.failed == 2
        failing["on"] = False
        recorder = Recorder(engine)
        engine.resume(halted.job_id)
        resumed = recorder.wait_for(JobFinished, lambda e: e.job_id == halted.job_id, timeout=20)
        states = journal_states(engine, halted.job_id)

    assert resumed.state is JobState.COMPLETED  # not halted again at once by the earlier two
    assert (resumed.failed, resumed.done) == (2, 10) and states[FileStatus.DONE] == 10


# -- the journal failing at each step -------------------------------------------------------------
STEPS = ["add_files", "mark_planned", "record_files", "store_counts", "set_job_state"]


def failing_at(home: Path, step: str, nth: int) -> Journal:
    """A journal whose ``nth`` call of ``step`` raises what SQLite raises on a full disk."""
    original = getattr(Journal, step)

    def failing(self: Any, *args: Any, **kwargs: Any) -> Any:
        self.calls = getattr(self, "calls", 0) + 1
        if self.calls == nth:
            raise sqlite3.OperationalError("database or disk is full")
        return original(self, *args, **kwargs)

    journal_class = type("FailingAt", (Journal,), {step: failing})
    journal: Journal = journal_class(home)
    return journal


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("nth", [1, 2, 3])
def test_a_journal_error_at_any_step_ends_the_job_with_a_message(use_backend: Any, inputs: Path, tmp_path: Path,
                                                                  step: str, nth: int) -> None:
    use_backend(ScriptedBackend(all_done))
    journal = failing_at(tmp_path / "home", step, nth)
    with Engine(journal=journal) as engine:
        recorder = Recorder(engine)
        job_id = engine.submit(spec_for(inputs))
        finished = recorder.wait_for(JobFinished, lambda e: e.job_id == job_id, timeout=20)
        if getattr(journal, "calls", 0) >= nth:  # the step failed: the engine said so, and stopped
            stopped = recorder.wait_for(EngineStopped, timeout=20)
            assert finished.state is JobState.ERROR
            assert finished.error is not None and "database or disk is full" in finished.error
            assert stopped.error == finished.error
        else:  # this job never took that step that often
            assert finished.state is JobState.COMPLETED
        journal_states(engine, job_id)  # the job's counts are those of its records, whatever failed
