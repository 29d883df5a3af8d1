"""One test per failure mode of a worker: each checks that only the misbehaving file fails, with a
message that names the cause, that every other file's output is right, and that the run ends.

Plus the pool's policies around failures: retries, worker recycling, pause/resume and cancel.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import targets
from batchmill.core.engine import Engine
from batchmill.core.events import (
    FailureKind, FileFailed, FileFinished, FileStarted, FileStatus, JobFinished, JobState, JobStateChanged,
    WorkerExited, WorkerStatus,
)
from batchmill.core.spec import JobSpec
from engine_driver import (
    START_METHODS, Recorder, assert_one_failure, assert_outputs, iter_results, leftovers, make_inputs,
    pids_alive, prepare_start_method, run_job,
)

pytestmark = pytest.mark.timeout(90)


@pytest.fixture(autouse=True)
def test_processors(monkeypatch: pytest.MonkeyPatch) -> None:
    targets.register(monkeypatch)


@pytest.fixture(scope="module", params=START_METHODS)
def start_method(request: pytest.FixtureRequest) -> str:
    return prepare_start_method(request.param)


@pytest.fixture
def engine(start_method: str, batchmill_home: Path) -> Iterator[Engine]:
    with Engine(batchmill_home, start_method=start_method) as engine:
        yield engine


@pytest.fixture
def spawn_engine(batchmill_home: Path) -> Iterator[Engine]:
    with Engine(batchmill_home) as engine:
        yield engine


def target_spec(tmp_path: Path, target: str, **options: Any) -> JobSpec:
    params = {"target": target, "marker_dir": str(tmp_path), **options.pop("params", {})}
    return JobSpec("test-target", (str(tmp_path / "in"),), str(tmp_path / "out"), params=params,
                   **{"workers": 2, **options})


# -- one test per failure mode ----------------------------------------------------------------
def test_processor_raising_fails_its_file_with_message_and_traceback(engine: Engine, tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path / "in")
    bad = tmp_path / "in" / "bad.txt"

    run = run_job(engine, target_spec(tmp_path, "raise_on_bad"))

    failure = assert_one_failure(engine, run, bad, FailureKind.PROCESSOR_ERROR,
                                 "processor raised ValueError: cannot digest bad.txt")
    assert "Traceback" in failure.traceback and "in raise_on_bad" in failure.traceback
    assert_outputs(inputs, tmp_path / "in", tmp_path / "out" / "in", {bad})
    assert run.of(WorkerExited) == []  # a raising processor costs no process


def test_os_exit_in_processor_fails_its_file_and_a_new_worker_takes_over(engine: Engine, tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path / "in")
    bad = tmp_path / "in" / "bad.txt"

    run = run_job(engine, target_spec(tmp_path, "exit_on_bad"))

    assert_one_failure(engine, run, bad, FailureKind.WORKER_DIED,
                       "the worker process exited with code 3 while processing this file")
    assert_outputs(inputs, tmp_path / "in", tmp_path / "out" / "in", {bad})
    assert [e.reason for e in run.of(WorkerExited)] == ["the worker process exited with code 3"]


def test_sigkill_of_a_busy_worker_fails_only_its_file(engine: Engine, tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path / "in")
    bad = tmp_path / "in" / "bad.txt"
    recorder = Recorder(engine)

    job_id = engine.submit(target_spec(tmp_path, "hang_on_bad"))
    busy = recorder.wait_for(WorkerStatus, lambda e: e.input == str(bad))
    assert busy.pid is not None
    os.kill(busy.pid, signal.SIGKILL)
    run = recorder.finish(job_id)

    assert_one_failure(engine, run, bad, FailureKind.WORKER_DIED,
                       "the worker process was killed by SIGKILL while processing this file")
    assert_outputs(inputs, tmp_path / "in", tmp_path / "out" / "in", {bad})
    assert [(e.pid, e.reason) for e in run.of(WorkerExited)] == [(busy.pid, "the worker process was killed by SIGKILL")]


def test_timeout_kills_only_the_worker_of_the_slow_file(engine: Engine, tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path / "in")
    bad = tmp_path / "in" / "bad.txt"
    recorder = Recorder(engine)

    job_id = engine.submit(target_spec(tmp_path, "hang_on_bad", timeout_s=1.0))
    busy = recorder.wait_for(WorkerStatus, lambda e: e.input == str(bad))
    run = recorder.finish(job_id)

    assert_one_failure(engine, run, bad, FailureKind.TIMEOUT,
                       "ran longer than the 1 s timeout; its worker process was killed")
    assert_outputs(inputs, tmp_path / "in", tmp_path / "out" / "in", {bad})
    assert [e.reason for e in run.of(WorkerExited)] == ["killed: file timed out"]
    assert busy.pid not in pids_alive({busy.pid})
    # The other worker finished files before the timeout fired and is still there after it.
    failed_at = run.events.index(run.final_failures()[0])
    before = {e.input for e in run.events[:failed_at] if isinstance(e, FileFinished)}
    other_pids = {pid for src, pid in iter_results(engine, job_id) if src in before} - {busy.pid}
    assert other_pids and pids_alive(other_pids) == other_pids


def test_unpicklable_return_value_fails_its_file(engine: Engine, tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path / "in")
    bad = tmp_path / "in" / "bad.txt"

    run = run_job(engine, target_spec(tmp_path, "unpicklable_on_bad"))

    failure = assert_one_failure(engine, run, bad, FailureKind.UNPICKLABLE_RESULT,
                                 "the processor's return value could not be sent back (not picklable): lock")
    assert "_thread.lock" in failure.error
    assert_outputs(inputs, tmp_path / "in", tmp_path / "out" / "in", {bad})
    assert run.of(WorkerExited) == []


# -- retries and recycling --------------------------------------------------------------------
def test_retries_run_a_failed_file_again(spawn_engine: Engine, tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path / "in", good=6)
    bad = tmp_path / "in" / "bad.txt"

    run = run_job(spawn_engine, target_spec(tmp_path, "fail_first_attempt", retries=1))

    assert run.finished.state is JobState.COMPLETED
    assert (run.finished.done, run.finished.failed) == (7, 0)
    [first] = run.of(FileFailed)
    assert (first.input, first.attempt, first.will_retry) == (str(bad), 1, True)
    assert first.error == "processor raised OSError: flaky network share while reading bad.txt"
    assert_outputs(inputs, tmp_path / "in", tmp_path / "out" / "in", set())
    attempts = {r.input: r.attempts for r in spawn_engine.journal.files(run.job_id)}
    assert attempts[str(bad)] == 2 and set(attempts.values()) == {1, 2}


def test_retries_give_up_after_n_extra_attempts(spawn_engine: Engine, tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path / "in", good=4)
    bad = tmp_path / "in" / "bad.txt"

    run = run_job(spawn_engine, target_spec(tmp_path, "always_fail_on_bad", retries=2))

    tries = [(e.attempt, e.will_retry, e.error) for e in run.of(FileFailed)]
    assert tries == [(1, True, "processor raised RuntimeError: attempt 1 failed"),
                     (2, True, "processor raised RuntimeError: attempt 2 failed"),
                     (3, False, "processor raised RuntimeError: attempt 3 failed")]
    assert (tmp_path / "bad.txt.attempts").read_text() == "3"
    assert_one_failure(spawn_engine, run, bad, FailureKind.PROCESSOR_ERROR, "processor raised RuntimeError: attempt 3")
    assert_outputs(inputs, tmp_path / "in", tmp_path / "out" / "in", {bad})


def test_workers_are_recycled_after_max_files(spawn_engine: Engine, tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path / "in", good=12, bad=())

    run = run_job(spawn_engine, target_spec(tmp_path, "copy_upper", max_files_per_worker=3))

    assert (run.finished.state, run.finished.done, run.finished.failed) == (JobState.COMPLETED, 12, 0)
    assert_outputs(inputs, tmp_path / "in", tmp_path / "out" / "in", set())
    files_per_pid = Counter(pid for _, pid in iter_results(spawn_engine, run.job_id))
    assert len(files_per_pid) >= 4 and max(files_per_pid.values()) <= 3, files_per_pid
    assert run.of(WorkerExited) == []  # a planned retirement is not reported as a death


# -- pause, resume, cancel --------------------------------------------------------------------
def test_pause_hands_out_no_new_files_and_resume_finishes(spawn_engine: Engine, tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path / "in", good=16, bad=())
    recorder = Recorder(spawn_engine)

    job_id = spawn_engine.submit(target_spec(tmp_path, "copy_upper", workers=1, params={"delay": 0.1}))
    recorder.wait_for(FileFinished)
    spawn_engine.pause(job_id)
    recorder.wait_for(JobStateChanged, lambda e: e.state is JobState.PAUSED)
    _wait_until_quiet(recorder, quiet_s=0.6, limit_s=10.0)  # batches already sent may finish
    finished = len([e for e in recorder.events if isinstance(e, FileFinished)])
    later = recorder.pull(1.0)

    assert [e for e in later if isinstance(e, (FileStarted, FileFinished))] == []
    assert spawn_engine.state_of(job_id) is JobState.PAUSED and finished < 16
    spawn_engine.resume(job_id)
    run = recorder.finish(job_id)
    assert (run.finished.state, run.finished.done) == (JobState.COMPLETED, 16)
    assert_outputs(inputs, tmp_path / "in", tmp_path / "out" / "in", set())


def _wait_until_quiet(recorder: Recorder, quiet_s: float, limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if not [e for e in recorder.pull(quiet_s) if isinstance(e, (FileStarted, FileFinished))]:
            return
    pytest.fail(f"files kept starting for {limit_s} s after pause")


def test_cancel_kills_workers_promptly_keeps_done_outputs_and_no_partials(spawn_engine: Engine,
                                                                          tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path / "in", good=8, bad=("bad.txt",))
    out = tmp_path / "out" / "in"
    recorder = Recorder(spawn_engine)

    job_id = spawn_engine.submit(target_spec(tmp_path, "partial_then_copy", params={"delay": 0.3}))
    busy = recorder.wait_for(WorkerStatus, lambda e: e.input == str(tmp_path / "in" / "bad.txt"))
    recorder.wait_for(FileFinished)
    assert leftovers(out), "the hanging file should have a partial temporary output by now"
    cancelled_at = time.monotonic()
    spawn_engine.cancel(job_id)
    run = recorder.finish(job_id, timeout=10.0)

    assert time.monotonic() - cancelled_at < 3.0  # not waiting for the 60 s file
    assert run.finished.state is JobState.CANCELLED
    assert busy.pid not in pids_alive({busy.pid})
    assert leftovers(out) == []
    done = {Path(r.input) for r in spawn_engine.journal.files(job_id, (FileStatus.DONE,))}
    assert done and len(done) == run.finished.done < len(inputs)
    assert_outputs(inputs, tmp_path / "in", out, failed=set(inputs) - done)
    assert spawn_engine.journal.get_job(job_id).state is JobState.CANCELLED
    assert run.final_failures() == [] and not any(isinstance(e, JobFinished) and e.job_id != job_id
                                                  for e in recorder.events)
