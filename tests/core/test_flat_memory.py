"""What the engine keeps per file does not grow with the job: past a window, planned files wait
in the journal and are read back as files finish; results for a final step are sorted on disk
(batchmill.core.jobrun.WINDOW, batchmill.core.spill)."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import batchmill.core.jobrun
import batchmill.core.spill
import targets
from batchmill.core.engine import Engine
from batchmill.core.events import JobState
from batchmill.core.jobrun import JobRun
from batchmill.core.spec import JobSpec
from batchmill.core.spill import SpillSorter
from engine_driver import run_job

pytestmark = pytest.mark.timeout(120)

WINDOW, RUN = 40, 64
FILES = 600


@pytest.fixture
def small_bounds(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """A small window and spill size, and the most the engine ever held in memory."""
    monkeypatch.setattr(batchmill.core.jobrun, "WINDOW", WINDOW)
    monkeypatch.setattr(batchmill.core.spill, "RUN_SIZE", RUN)
    seen = {"entries": 0, "pending": 0, "results_in_memory": 0, "spilled_runs": 0}

    def watch(method: Any) -> Any:
        def watched(self: JobRun, *args: Any) -> Any:
            value = method(self, *args)
            seen["entries"] = max(seen["entries"], len(self.entries))
            seen["pending"] = max(seen["pending"], len(self.pending))
            seen["results_in_memory"] = max(seen["results_in_memory"], len(self.results.items))
            seen["spilled_runs"] = max(seen["spilled_runs"], len(self.results.runs))
            return value
        return watched

    for name in ("plan_step", "top_up", "on_results", "take"):
        monkeypatch.setattr(JobRun, name, watch(getattr(JobRun, name)))
    return seen


@pytest.fixture
def engine(batchmill_home: Path) -> Iterator[Engine]:
    with Engine(batchmill_home) as engine:
        yield engine


def make_tree(folder: Path, count: int) -> dict[str, bytes]:
    files = {}
    for i in range(count):
        rel = f"d{i % 7}/f{i:04d}.bin"
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        data = f"file {i}\n".encode()
        (folder / rel).write_bytes(data)
        files[rel] = data
    return files


def test_a_checksum_job_larger_than_the_window_keeps_memory_bounded(
        engine: Engine, tmp_path: Path, small_bounds: dict[str, int]) -> None:
    files = make_tree(tmp_path / "in", FILES)
    run = run_job(engine, JobSpec("checksum", (str(tmp_path / "in"),), str(tmp_path / "out"), workers=2))
    assert (run.finished.state, run.finished.done) == (JobState.COMPLETED, FILES), run.finished
    assert small_bounds["entries"] <= WINDOW and small_bounds["pending"] <= WINDOW, small_bounds
    assert small_bounds["results_in_memory"] < RUN and small_bounds["spilled_runs"] >= FILES // RUN - 1, small_bounds
    manifest = (tmp_path / "out" / "in" / "SHA256SUMS").read_text().splitlines()
    assert manifest == [f"{hashlib.sha256(files[rel]).hexdigest()}  {rel}" for rel in sorted(files)]


def test_a_job_larger_than_the_window_runs_every_file_once(
        engine: Engine, tmp_path: Path, small_bounds: dict[str, int], monkeypatch: pytest.MonkeyPatch) -> None:
    targets.register(monkeypatch)
    files = make_tree(tmp_path / "in", FILES)
    spec = JobSpec("test-target", (str(tmp_path / "in"),), str(tmp_path / "out"), workers=2,
                   params={"target": "copy_upper"})
    run = run_job(engine, spec)
    assert (run.finished.state, run.finished.done, run.finished.total) == (JobState.COMPLETED, FILES, FILES)
    assert small_bounds["entries"] <= WINDOW, small_bounds
    for rel, data in files.items():
        assert (tmp_path / "out" / "in" / rel).read_bytes() == data.upper()


def test_spilled_runs_merge_into_one_sorted_sequence() -> None:
    items = list(range(1000))
    random.Random(7).shuffle(items)
    sorter: SpillSorter[int] = SpillSorter(lambda n: n, run_size=90)
    for item in items:
        sorter.add(item)
    assert len(sorter.runs) == 1000 // 90 and len(sorter.items) < 90
    assert list(sorter.sorted()) == sorted(items)
    assert sorter.runs == []


def test_many_runs_are_merged_as_they_fill_up_so_few_are_ever_open() -> None:
    items = list(range(5000))
    random.Random(3).shuffle(items)
    sorter: SpillSorter[int] = SpillSorter(lambda n: n, run_size=10)
    most = 0
    for item in items:
        sorter.add(item)
        most = max(most, len(sorter.runs))
    assert most <= 2 * batchmill.core.spill.FAN_IN, most  # 500 spills, never 500 open runs
    assert list(sorter.sorted()) == sorted(items)


def test_a_manifest_made_in_a_temporary_file_is_compared_and_written_like_a_small_one(
        engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import batchmill.core.processors.checksum as checksum
    from batchmill.core.events import Log

    monkeypatch.setattr(checksum, "SPOOL_BYTES", 200)  # two lines in memory, the rest spooled
    monkeypatch.setattr(checksum, "MANIFEST_PIECE", 3)
    files = make_tree(tmp_path / "in", 20)
    spec = JobSpec("checksum", (str(tmp_path / "in"),), str(tmp_path / "out"), workers=2)
    manifest = tmp_path / "out" / "in" / "SHA256SUMS"

    def said(run: Any) -> list[str]:
        return [e.message for e in run.of(Log) if "SHA256SUMS" in e.message]

    assert said(run_job(engine, spec)) == [f"wrote {manifest} (20 files)"]
    assert manifest.read_text().splitlines() == [
        f"{hashlib.sha256(files[rel]).hexdigest()}  {rel}" for rel in sorted(files)]
    assert said(run_job(engine, spec)) == [f"{manifest} is up to date (20 files)"]
    (tmp_path / "in" / "d0" / "new.bin").write_bytes(b"new")
    assert said(run_job(engine, spec)) == [f"rewrote {manifest} (21 files; the one there listed 20)"]
    assert len(manifest.read_text().splitlines()) == 21


def test_items_that_come_in_order_are_given_back_without_a_merge(monkeypatch: pytest.MonkeyPatch) -> None:
    sorter: SpillSorter[tuple[int, str]] = SpillSorter(None, run_size=10)
    for n in range(95):
        sorter.add((n, f"f{n}"))
    assert sorter.in_order and len(sorter.runs) == 9

    def no_merge(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("merged runs that were in order")

    monkeypatch.setattr(batchmill.core.spill.heapq, "merge", no_merge)
    assert list(sorter.sorted()) == [(n, f"f{n}") for n in range(95)]


def test_files_beyond_the_window_are_read_back_without_the_rows_before_them(
        engine: Engine, tmp_path: Path, small_bounds: dict[str, int], monkeypatch: pytest.MonkeyPatch) -> None:
    """The read back starts at the journal row holding the first file not kept in memory: reading
    from the job's first row decoded every planned record before it again (9 ms of a 20,001-file job)."""
    from batchmill.core.journal import Journal

    monkeypatch.setattr(batchmill.core.jobrun, "PLAN_CHUNK", 25)
    read: list[int] = []
    planned_after = Journal.planned_after

    def counting(self: Journal, job_id: str, after_row: int) -> Any:
        chunk = planned_after(self, job_id, after_row)
        if chunk is not None:
            read.extend(record[0] for record in chunk[1])
        return chunk

    monkeypatch.setattr(Journal, "planned_after", counting)
    make_tree(tmp_path / "in", FILES)
    run = run_job(engine, JobSpec("checksum", (str(tmp_path / "in"),), str(tmp_path / "out"), workers=2))
    assert (run.finished.state, run.finished.done) == (JobState.COMPLETED, FILES), run.finished
    assert read and min(read) >= WINDOW - 25 and len(read) == len(set(read)), sorted(read)[:30]
