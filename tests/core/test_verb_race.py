"""Issue 15: the engine decides resume and retry on its own thread. The check of the job's state
and the act (un-pause, or prepare and queue it) are one step there, so two callers at once on
one job (two threads, a double click, resume beside cancel) get one winner and one clear
refusal: no exception escapes, nothing runs twice.

Real spawn workers, a real journal in tmp_path; the racing calls are released together by a
barrier from two threads.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

import targets
from batchmill.core.engine import Engine, JobError
from batchmill.core.events import (
    FileFinished, FileStatus, JobFinished, JobForgotten, JobQueued, JobStarted, JobState, JobStateChanged,
    VerbRefused,
)
from batchmill.core.spec import JobSpec
from engine_driver import Recorder, assert_outputs, make_inputs

pytestmark = pytest.mark.timeout(120)
ANSWER_S = 30.0


@pytest.fixture(autouse=True)
def test_processors(monkeypatch: pytest.MonkeyPatch) -> None:
    targets.register(monkeypatch)


@pytest.fixture
def engine(batchmill_home: Path) -> Iterator[Engine]:
    with Engine(batchmill_home) as eng:
        yield eng


def target_spec(tmp_path: Path, target: str, **options: Any) -> JobSpec:
    params = {"target": target, "marker_dir": str(tmp_path), **options.pop("params", {})}
    return JobSpec("test-target", (str(tmp_path / "in"),), str(tmp_path / "out"), params=params,
                   **{"workers": 1, **options})


def at_once(*calls: Callable[[], Future[str] | None]) -> list[Future[str] | BaseException | None]:
    """Run each call on its own thread, released together; what each returned (or raised)."""
    barrier = threading.Barrier(len(calls))
    got: list[Future[str] | BaseException | None] = [None] * len(calls)

    def run(index: int, call: Callable[[], Future[str] | None]) -> None:
        barrier.wait()
        try:
            got[index] = call()
        except BaseException as exc:  # noqa: BLE001 - the test says what escaped
            got[index] = exc

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(ANSWER_S)
    return got


def outcomes(answers: list[Future[str] | BaseException | None]) -> tuple[list[str], list[BaseException]]:
    """The ids of the calls that won, and the exceptions of those refused (via their Future)."""
    won: list[str] = []
    refused: list[BaseException] = []
    for answer in answers:
        assert isinstance(answer, Future), f"a call raised on its caller's thread: {answer!r}"
        error = answer.exception(ANSWER_S)
        if error is None:
            won.append(answer.result())
        else:
            refused.append(error)
    return won, refused


def interrupted_job(engine: Engine, recorder: Recorder, tmp_path: Path, files: int = 12) -> tuple[str, dict[Path, bytes]]:
    inputs = make_inputs(tmp_path / "in", good=files, bad=())
    job_id = engine.submit(target_spec(tmp_path, "copy_upper", params={"delay": 0.2}))  # seconds of work
    recorder.wait_for(FileFinished, lambda e: e.job_id == job_id)
    engine.interrupt(job_id)
    finished = recorder.wait_for(JobFinished, lambda e: e.job_id == job_id)
    assert finished.state is JobState.INTERRUPTED and finished.done < files, finished
    return job_id, inputs


def test_two_resumes_of_one_job_at_once_run_it_once_and_refuse_the_other(engine: Engine, tmp_path: Path) -> None:
    recorder = Recorder(engine)
    job_id, inputs = interrupted_job(engine, recorder, tmp_path)
    since = len(recorder.events)

    won, refused = outcomes(at_once(lambda: engine.resume(job_id), lambda: engine.resume(job_id)))

    assert won == [job_id], (won, refused)
    assert len(refused) == 1 and isinstance(refused[0], JobError), refused
    # Queued, or begun already if the other call came a moment later: never a second run.
    assert re.fullmatch(f"job {job_id} is already (queued|planning|running): there is nothing to resume",
                        str(refused[0])), refused
    finished = recorder.wait_for(JobFinished, lambda e: e.job_id == job_id, since=since)
    after = recorder.events[since:]
    # One queued it, the other never did.
    assert len([e for e in after if isinstance(e, JobQueued) and e.job_id == job_id]) == 1, after
    assert [(e.verb, e.message) for e in after if isinstance(e, VerbRefused)] == [("resume", str(refused[0]))]
    assert len([e for e in after if isinstance(e, JobStarted) and e.job_id == job_id]) == 1
    assert (finished.state, finished.done, finished.failed) == (JobState.COMPLETED, 12, 0), finished
    assert_outputs(inputs, tmp_path / "in", tmp_path / "out" / "in", set())


def test_two_retries_of_one_job_at_once_run_its_failed_files_once(engine: Engine, tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path / "in", good=4, bad=("bad1.txt", "bad2.txt"))
    recorder = Recorder(engine)
    # The bad files fail once, then take a second each: the retry runs long enough that the second
    # call always finds it queued or running, never finished.
    job_id = engine.submit(target_spec(tmp_path, "fail_first_attempt", workers=2, params={"delay": 1.0}))
    first = recorder.wait_for(JobFinished, lambda e: e.job_id == job_id)
    assert (first.state, first.failed) == (JobState.COMPLETED, 2), first
    since = len(recorder.events)

    won, refused = outcomes(at_once(lambda: engine.retry(job_id), lambda: engine.retry(job_id)))

    assert won == [job_id] and len(refused) == 1, (won, refused)
    assert re.fullmatch(f"job {job_id} is still (queued|planning|running); retry it when it has finished",
                        str(refused[0])), refused
    again = recorder.wait_for(JobFinished, lambda e: e.job_id == job_id, since=since)
    after = recorder.events[since:]
    assert len([e for e in after if isinstance(e, JobQueued) and e.job_id == job_id]) == 1, after
    assert len([e for e in after if isinstance(e, JobStarted) and e.job_id == job_id]) == 1
    assert (again.state, again.done, again.failed) == (JobState.COMPLETED, 6, 0), again
    assert_outputs(inputs, tmp_path / "in", tmp_path / "out" / "in", set())
    assert engine.journal.files(job_id, (FileStatus.FAILED,)) == []


def test_two_resumes_of_a_paused_job_unpause_it_once(engine: Engine, tmp_path: Path) -> None:
    make_inputs(tmp_path / "in", good=12, bad=())
    recorder = Recorder(engine)
    job_id = engine.submit(target_spec(tmp_path, "copy_upper", params={"delay": 0.2}))
    recorder.wait_for(FileFinished, lambda e: e.job_id == job_id)
    engine.pause(job_id)
    recorder.wait_for(JobStateChanged, lambda e: e.job_id == job_id and e.state is JobState.PAUSED)
    since = len(recorder.events)

    won, refused = outcomes(at_once(lambda: engine.resume(job_id), lambda: engine.resume(job_id)))

    assert won == [job_id] and len(refused) == 1, (won, refused)
    assert str(refused[0]) == f"job {job_id} is already running: there is nothing to resume"
    finished = recorder.wait_for(JobFinished, lambda e: e.job_id == job_id, since=since)
    after = recorder.events[since:]
    assert [e.state for e in after if isinstance(e, JobStateChanged) and e.job_id == job_id][0] is JobState.RUNNING
    assert not [e for e in after if isinstance(e, JobQueued)], "un-paused, not queued again"
    assert (finished.state, finished.done) == (JobState.COMPLETED, 12)


def test_a_resume_beside_a_cancel_ends_in_one_state_with_no_exception(engine: Engine, tmp_path: Path) -> None:
    """Whichever the engine takes first, the job ends once, as a state the table allows; the resume
    either ran it or was refused in words, and nothing was raised on a caller's thread."""
    recorder = Recorder(engine)
    job_id, inputs = interrupted_job(engine, recorder, tmp_path)
    since = len(recorder.events)

    answers = at_once(lambda: engine.resume(job_id), lambda: engine.cancel(job_id))

    assert answers[1] is None, answers  # cancel returns nothing and raised nothing
    won, refused = outcomes([answers[0]])
    assert won == [job_id] and refused == [], (won, refused)  # a job not queued yet has nothing to cancel
    finished = recorder.wait_for(JobFinished, lambda e: e.job_id == job_id, since=since)
    assert finished.state in (JobState.CANCELLED, JobState.COMPLETED), finished
    again = engine.resume(job_id).result(ANSWER_S)  # a cancelled one resumes by its id; a completed one is a no-op
    assert again == job_id
    done = recorder.wait_for(JobFinished, lambda e: e.job_id == job_id, since=len(recorder.events))
    assert (done.state, done.done) == (JobState.COMPLETED, 12)
    assert_outputs(inputs, tmp_path / "in", tmp_path / "out" / "in", set())


def test_a_refused_resume_is_answered_not_raised_and_the_engine_goes_on(engine: Engine, tmp_path: Path) -> None:
    recorder = Recorder(engine)
    answer = engine.resume("nosuchjob")
    with pytest.raises(JobError, match="no job 'nosuchjob' in the journal"):
        answer.result(ANSWER_S)
    refused = recorder.wait_for(VerbRefused)
    assert (refused.job_id, refused.verb) == ("nosuchjob", "resume")
    inputs = make_inputs(tmp_path / "in", good=3, bad=())
    job_id = engine.submit(target_spec(tmp_path, "copy_upper"))
    finished = recorder.wait_for(JobFinished, lambda e: e.job_id == job_id)
    assert (finished.state, finished.done) == (JobState.COMPLETED, 3)
    assert_outputs(inputs, tmp_path / "in", tmp_path / "out" / "in", set())


def test_a_resume_and_a_forget_of_one_job_at_once_one_wins(engine: Engine, tmp_path: Path) -> None:
    """Forgetting on the caller's thread could delete a job the engine had just queued to resume
    (the journal still said interrupted): the engine then ran a job the journal no longer had.
    Decided on the engine thread, one wins: resumed (the forget refused: it is queued here), or
    forgotten (the resume refused: no such job)."""
    recorder = Recorder(engine)
    job_id, inputs = interrupted_job(engine, recorder, tmp_path)
    since = len(recorder.events)

    resumed, forgot = at_once(lambda: engine.resume(job_id), lambda: engine.forget(job_id))

    assert isinstance(resumed, Future) and isinstance(forgot, Future), (resumed, forgot)
    errors = (resumed.exception(ANSWER_S), forgot.exception(ANSWER_S))
    assert [e is None for e in errors].count(True) == 1, errors
    assert all(e is None or isinstance(e, JobError) for e in errors), errors
    recorder.wait_for(VerbRefused, since=since)
    if errors[1] is None:
        recorder.wait_for(JobForgotten, since=since)
    refused = [e for e in recorder.events[since:] if isinstance(e, VerbRefused)]
    if errors[0] is None:  # resumed: it runs to the end, and is still in the journal
        assert re.fullmatch(f"job {job_id} is (queued|planning|running) here: cancel it first", str(errors[1]))
        finished = recorder.wait_for(JobFinished, lambda e: e.job_id == job_id, since=since)
        assert (finished.state, finished.done) == (JobState.COMPLETED, 12)
        assert_outputs(inputs, tmp_path / "in", tmp_path / "out" / "in", set())
        assert engine.journal.get_job(job_id) is not None
        assert [r.verb for r in refused] == ["forget"]
    else:  # forgotten: nothing runs it
        assert str(errors[0]) == f"no job {job_id!r} in the journal {engine.journal.path}"
        assert engine.journal.get_job(job_id) is None
        assert [r.verb for r in refused] == ["resume"]
        assert not [e for e in recorder.events[since:] if isinstance(e, (JobQueued, JobStarted))]
        assert [e.job_id for e in recorder.events[since:] if isinstance(e, JobForgotten)] == [job_id]


def test_forget_refuses_a_job_queued_here_and_forgets_it_once_it_has_ended(engine: Engine, tmp_path: Path) -> None:
    recorder = Recorder(engine)
    job_id, _inputs = interrupted_job(engine, recorder, tmp_path)
    since = len(recorder.events)
    engine.resume(job_id).result(ANSWER_S)
    refused = engine.forget(job_id)  # queued or running here by now, whichever the engine has reached
    with pytest.raises(JobError, match=f"job {job_id} is (queued|planning|running) here: cancel it first"):
        refused.result(ANSWER_S)
    recorder.wait_for(JobFinished, lambda e: e.job_id == job_id, since=since)
    report = engine.forget(job_id).result(ANSWER_S)
    assert report.jobs == [job_id] and report.refused == []
    assert engine.journal.get_job(job_id) is None
