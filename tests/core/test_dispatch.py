"""Dispatch fills every worker: the first files go one per worker, and files queued behind a long
one on a busy worker are taken back for an idle one (batchmill.core.backends.local, .batching).

The real-process tests never time anything: their files wait for each other (meet_targets), so a
dispatch that puts two of them on one worker makes a file give up and report ``met: False``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

import meet_targets
from batchmill.core.backends.local import WITHDRAW_AFTER_S, Holding, batches_to_withdraw
from batchmill.core.batching import BatchSizer
from batchmill.core.engine import Engine
from batchmill.core.events import FailureKind, FileFailed, FileFinished, JobState
from batchmill.core.spec import JobSpec
from engine_driver import iter_results, run_job

pytestmark = pytest.mark.timeout(90)


# -- the policy, on scripted holdings ---------------------------------------------------------
def test_files_are_not_taken_back_when_no_worker_is_idle() -> None:
    assert batches_to_withdraw([Holding(1, 5.0, ((7, 3),))], idle=0) == []


def test_a_worker_just_started_on_its_file_keeps_its_queue() -> None:
    # the tail of a tiny-file job: nothing is asked back for a wait shorter than a round trip or two
    assert batches_to_withdraw([Holding(1, WITHDRAW_AFTER_S / 2, ((7, 3),))], idle=1) == []


def test_files_queued_behind_a_long_file_are_taken_back_for_an_idle_worker() -> None:
    holding = Holding(1, 2.0, ((7, 0), (8, 3)))  # batch 7 holds only the file it is on
    assert batches_to_withdraw([holding], idle=1) == [8]


def test_one_holder_per_idle_worker_the_most_queued_first() -> None:
    holdings = [Holding(1, 2.0, ((1, 1),)), Holding(2, 1.0, ((2, 5),)), Holding(3, 3.0, ((3, 2),))]
    assert batches_to_withdraw(holdings, idle=1) == [2]
    assert batches_to_withdraw(holdings, idle=2) == [2, 3]


def test_a_worker_with_nothing_queued_is_left_alone() -> None:
    assert batches_to_withdraw([Holding(1, 9.0, ((1, 0),)), Holding(2, 9.0, ())], idle=3) == []


def test_the_first_batch_is_one_file_whatever_the_jobs_size() -> None:
    for remaining in (2, 9, 1_000_000):
        assert BatchSizer().size(workers=4, remaining=remaining) == 1


# -- real workers -----------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def meet_processor(monkeypatch: pytest.MonkeyPatch) -> None:
    meet_targets.register(monkeypatch)


@pytest.fixture
def engine(batchmill_home: Path) -> Iterator[Engine]:
    with Engine(batchmill_home) as engine:
        yield engine


def meet_job(tmp_path: Path, texts: list[str], workers: int, **options: object) -> JobSpec:
    folder = tmp_path / "in"
    folder.mkdir()
    for i, text in enumerate(texts, 1):
        (folder / f"{i}.txt").write_text(text)
    markers = tmp_path / "markers"
    markers.mkdir()
    return JobSpec("test-meet", (str(folder),), str(tmp_path / "out"), params={"marker_dir": str(markers)},
                   workers=workers, **options)  # type: ignore[arg-type]


def results_by_name(engine: Engine, job_id: str) -> dict[str, dict[str, object]]:
    return {Path(src).name: value for src, value in iter_results(engine, job_id)}


@pytest.mark.parametrize(("files", "workers"), [(2, 2), (4, 2), (4, 4), (8, 4)])
def test_n_files_on_w_workers_run_w_at_a_time(engine: Engine, tmp_path: Path, files: int, workers: int) -> None:
    # round r's files wait until every file of rounds 0..r has started: they need all workers at once
    texts = [f"started {(i // workers + 1) * workers}" for i in range(files)]
    run = run_job(engine, meet_job(tmp_path, texts, workers))
    assert run.finished.state is JobState.COMPLETED, run.finished
    results = results_by_name(engine, run.job_id)
    assert [name for name, value in results.items() if not value["met"]] == []
    assert sorted(Counter(value["pid"] for value in results.values()).values()) == [files // workers] * workers


def test_files_queued_behind_a_long_one_move_to_an_idle_worker(engine: Engine, tmp_path: Path) -> None:
    # 1.txt runs until 2, 3 and 4 are done; the first hand-out queues 3.txt behind it on its worker
    run = run_job(engine, meet_job(tmp_path, ["done 2.txt 3.txt 4.txt", "", "", ""], 2))
    assert run.finished.state is JobState.COMPLETED, run.finished
    results = results_by_name(engine, run.job_id)
    assert results["1.txt"]["met"] is True
    assert len({results[name]["pid"] for name in ("2.txt", "3.txt", "4.txt")} - {results["1.txt"]["pid"]}) == 1


def test_a_hanging_file_does_not_hold_back_the_files_sent_with_it(engine: Engine, tmp_path: Path) -> None:
    # 1.txt waits for a file that never comes: only the timeout ends it, after the others are done
    run = run_job(engine, meet_job(tmp_path, ["done never.txt", "", "", "", ""], 2, timeout_s=6.0))
    assert (run.finished.state, run.finished.done, run.finished.failed) == (JobState.COMPLETED, 4, 1)
    order = [Path(e.input).name for e in run.events if isinstance(e, (FileFinished, FileFailed))]
    assert order[-1] == "1.txt", order
    [failure] = run.final_failures()
    assert failure.kind is FailureKind.TIMEOUT
