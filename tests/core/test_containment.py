"""Containment at the edges (issue 12): an error about one file fails that file and the job goes on.

Each test reproduces one way a hostile user broke the promise — a name at the file-name limit, a
return value that cannot be recorded, a run of crashing files — and checks that only the
misbehaving files fail, each with its own reason, that every other file's output is right, that
no temporary is left, and that the journal's records and counts agree.
"""

from __future__ import annotations

import signal
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import targets
from batchmill.core.engine import Engine
from batchmill.core.events import FailureKind, FileStatus, JobState
from batchmill.core.spec import JobSpec
from engine_driver import Recorder, assert_outputs, leftovers, pids_alive, run_job

pytestmark = pytest.mark.timeout(120)

LONG = 240  # bytes of stem: with ".txt" the name is 244 bytes, under NAME_MAX (255) but not by 17


@pytest.fixture(autouse=True)
def test_processors(monkeypatch: pytest.MonkeyPatch) -> None:
    targets.register(monkeypatch)


@pytest.fixture
def engine(batchmill_home: Path) -> Iterator[Engine]:
    with Engine(batchmill_home) as engine:
        yield engine


def target_spec(tmp_path: Path, target: str, **options: Any) -> JobSpec:
    params = {"target": target, "marker_dir": str(tmp_path), **options.pop("params", {})}
    return JobSpec("test-target", (str(tmp_path / "in"),), str(tmp_path / "out"), params=params,
                   **{"workers": 2, **options})


def write_inputs(folder: Path, names: list[str]) -> dict[Path, bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {folder / name: f"contents of {name[:20]}\n".encode() for name in names}
    for path, data in files.items():
        path.write_bytes(data)
    return files


def assert_journal_agrees(engine: Engine, job_id: str) -> Counter[FileStatus]:
    """The job's counts are those of its file records (``jobs`` and ``show`` tell the same story)."""
    job = engine.journal.get_job(job_id)
    assert job is not None
    states = Counter(record.state for record in engine.journal.files(job_id))
    assert (job.done, job.failed, job.skipped) == (states[FileStatus.DONE], states[FileStatus.FAILED],
                                                   states[FileStatus.SKIPPED]), (job, states)
    assert job.total == sum(states.values())
    return states


# -- item 1: names at the file-name limit ------------------------------------------------------
def test_a_name_at_the_file_name_limit_just_works(engine: Engine, tmp_path: Path) -> None:
    long_name = "x" * LONG + ".txt"
    inputs = write_inputs(tmp_path / "in", [long_name, "short.txt", "é" * 120 + ".txt"])

    run = run_job(engine, target_spec(tmp_path, "copy_upper"))

    assert run.finished.state is JobState.COMPLETED, run.finished
    assert (run.finished.done, run.finished.failed) == (3, 0), run.final_failures()
    assert_outputs(inputs, tmp_path / "in", tmp_path / "out" / "in", set())
    assert_journal_agrees(engine, run.job_id)


def test_a_long_named_file_that_crashes_its_worker_fails_alone(engine: Engine, tmp_path: Path) -> None:
    """The engine removes the temporary of a file whose worker died: that clean-up must fit the
    name limit too, and may never end the job itself."""
    bad = "bad" + "y" * LONG + ".txt"
    inputs = write_inputs(tmp_path / "in", [bad, "a.txt", "b.txt", "c.txt"])

    run = run_job(engine, target_spec(tmp_path, "exit_on_bad"))

    assert run.finished.state is JobState.COMPLETED, run.finished
    assert [(f.input, f.kind) for f in run.final_failures()] == [(str(tmp_path / "in" / bad),
                                                                  FailureKind.WORKER_DIED)]
    assert_outputs(inputs, tmp_path / "in", tmp_path / "out" / "in", {tmp_path / "in" / bad})
    assert_journal_agrees(engine, run.job_id)


def test_a_processor_writing_a_name_too_long_fails_its_file_with_the_reason(engine: Engine, tmp_path: Path) -> None:
    """An output name longer than any file system allows (a naming template made it): the output
    cannot be made, and each file says so (an output error), not the job."""
    inputs = write_inputs(tmp_path / "in", ["a.txt", "b.txt"])
    spec = target_spec(tmp_path, "copy_upper", name_template="{stem}" + "z" * 252 + "{ext}")

    run = run_job(engine, spec)

    assert run.finished.state is JobState.COMPLETED, run.finished
    failures = run.final_failures()
    assert sorted(f.input for f in failures) == sorted(str(p) for p in inputs), failures
    assert all(f.kind is FailureKind.OUTPUT_ERROR and "File name too long" in f.error for f in failures), failures
    assert leftovers(tmp_path / "out") == []
    assert_journal_agrees(engine, run.job_id)


# -- item 2: results that cannot be recorded ---------------------------------------------------
UNRECORDABLE_REASONS = {
    "tuplekeys": (FailureKind.UNRECORDABLE_RESULT,
                  "the processor's return value cannot be recorded: keys must be str, int, float, bool or None"),
    "hugebytes": (FailureKind.UNRECORDABLE_RESULT,
                  "the processor's return value is too large to record: bytes of 209,715,200 bytes"),
    "hugestr": (FailureKind.UNRECORDABLE_RESULT,
                "the processor's return value is too large to record: str of 209,715,200 characters"),
    "nested": (FailureKind.UNRECORDABLE_RESULT,
               "the processor's return value is too large to record: bytes of 20,971,520 bytes"),
    "reduceraises": (FailureKind.UNPICKLABLE_RESULT,
                     "the processor's return value could not be sent back (not picklable): _ReduceRaises: "
                     "RuntimeError: this object refuses to be pickled"),
}


def test_results_that_cannot_be_recorded_fail_their_own_files(engine: Engine, tmp_path: Path) -> None:
    names = [f"bad-{kind}.txt" for kind in [*UNRECORDABLE_REASONS, "workeronly"]]
    inputs = write_inputs(tmp_path / "in", names + [f"good-{i}.txt" for i in range(8)])

    run = run_job(engine, target_spec(tmp_path, "unrecordable_on_bad"), timeout=90)

    assert run.finished.state is JobState.COMPLETED, run.finished
    seen = {Path(f.input).stem.split("-")[1]: (f.kind, f.error) for f in run.final_failures()}
    assert set(seen) == set(UNRECORDABLE_REASONS), seen
    for kind, (failure_kind, message) in UNRECORDABLE_REASONS.items():
        assert seen[kind][0] is failure_kind and seen[kind][1].startswith(message), (kind, seen[kind])
    assert "BATCHMILL_MAX_RESULT_BYTES" in seen["hugestr"][1]
    failed = {p for p in inputs if p.stem.split("-")[1] in UNRECORDABLE_REASONS}
    assert_outputs(inputs, tmp_path / "in", tmp_path / "out" / "in", failed)
    states = assert_journal_agrees(engine, run.job_id)
    assert (states[FileStatus.DONE], states[FileStatus.FAILED]) == (9, 5)
    # An instance of a class only the worker could import is recorded as it reads, never unpickled here.
    results = {Path(r.input).name: r.result for r in engine.journal.files(run.job_id, (FileStatus.DONE,))}
    assert str(results["bad-workeronly.txt"]).startswith("<helper_mod.Shape object at 0x")


def test_the_result_cap_is_configurable(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATCHMILL_MAX_RESULT_BYTES", str(300 << 20))  # read by the workers as they start
    write_inputs(tmp_path / "in", ["bad-hugestr.txt", "good.txt"])

    run = run_job(engine, target_spec(tmp_path, "unrecordable_on_bad"), timeout=90)

    assert (run.finished.done, run.finished.failed) == (2, 0), run.final_failures()
    [record] = [r for r in engine.journal.files(run.job_id) if r.input.endswith("bad-hugestr.txt")]
    assert record.result == "x" * (200 << 20)


# -- item 3: crash accounting ------------------------------------------------------------------
@pytest.mark.parametrize("repeat", range(2))
def test_a_run_of_crashing_files_sorted_first_fail_alone(engine: Engine, tmp_path: Path, repeat: int) -> None:
    """Ten files that segfault, sorted first, then 200 good ones, on two workers: every death is
    pinned on its file, so none of them counts toward 'the processor cannot even load'."""
    names = [f"bad-{i:02d}.txt" for i in range(10)] + [f"good-{i:03d}.txt" for i in range(200)]
    inputs = write_inputs(tmp_path / "in", names)

    run = run_job(engine, target_spec(tmp_path, "segfault_on_bad"), timeout=100)

    assert run.finished.state is JobState.COMPLETED, run.finished
    assert (run.finished.done, run.finished.failed) == (200, 10), run.finished
    failures = run.final_failures()
    assert {f.error for f in failures} == {"the worker process was killed by SIGSEGV while processing this file"}
    assert sorted(Path(f.input).name for f in failures) == names[:10]
    assert_outputs(inputs, tmp_path / "in", tmp_path / "out" / "in", {p for p in inputs if p.name < "c"})
    assert_journal_agrees(engine, run.job_id)


# -- item 8: no orphans ------------------------------------------------------------------------
def child_pids(marker_dir: Path) -> set[int]:
    return {int(p.read_text()) for p in marker_dir.glob("*.child")}


def wait_until_gone(pids: set[int], seconds: float = 10.0) -> set[int]:
    from engine_driver import pids_alive

    deadline = time.monotonic() + seconds
    while (alive := pids_alive(pids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


def sigint_ignored(pid: int) -> bool:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    raise AssertionError(f"no SigIgn line for {pid}")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_programs_a_processor_starts_are_gone_when_the_job_completes(engine: Engine, tmp_path: Path) -> None:
    write_inputs(tmp_path / "in", [f"{i}.txt" for i in range(4)])
    marks = tmp_path / "marks"
    marks.mkdir()

    run = run_job(engine, target_spec(tmp_path, "start_child_and_return", params={"marker_dir": str(marks)}))

    assert (run.finished.state, run.finished.done) == (JobState.COMPLETED, 4)
    children = child_pids(marks)
    assert len(children) == 4
    assert not any(sigint_ignored(pid) for pid in pids_alive(children)), "a worker passed an ignored SIGINT on"
    engine.shutdown()  # the workers exit: what they started goes with them
    assert wait_until_gone(children) == set()


@pytest.mark.parametrize("how", ["timeout", "cancel"])
def test_programs_a_processor_starts_are_killed_with_its_worker(engine: Engine, tmp_path: Path, how: str) -> None:
    from batchmill.core.events import FileStarted

    write_inputs(tmp_path / "in", ["bad.txt", "a.txt", "b.txt"])
    recorder = Recorder(engine)
    job_id = engine.submit(target_spec(tmp_path, "start_child_on_bad", **({"timeout_s": 1.5} if how == "timeout" else {})))
    recorder.wait_for(FileStarted, lambda e: e.input.endswith("bad.txt"))
    deadline = time.monotonic() + 20
    while not child_pids(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.05)
    [child] = child_pids(tmp_path)
    if how == "cancel":
        engine.cancel(job_id)
    finished = recorder.finish(job_id).finished

    assert finished.state is (JobState.CANCELLED if how == "cancel" else JobState.COMPLETED)
    assert wait_until_gone({child}) == set(), f"the sleep a processor started outlived its {how}"


# -- the smaller items -------------------------------------------------------------------------
def test_a_processor_closing_every_descriptor_fails_its_file_and_leaves_no_output(engine: Engine,
                                                                                  tmp_path: Path) -> None:
    inputs = write_inputs(tmp_path / "in", ["bad.txt"] + [f"good-{i}.txt" for i in range(6)])
    bad = tmp_path / "in" / "bad.txt"

    run = run_job(engine, target_spec(tmp_path, "closerange_on_bad"))

    assert run.finished.state is JobState.COMPLETED, run.finished
    [failure] = run.final_failures()
    assert (failure.input, failure.kind) == (str(bad), FailureKind.WORKER_DIED)
    assert failure.error == ("the worker lost its pipe to the engine (the processor closed file descriptors it "
                             "did not open) while processing this file"), failure.error
    assert_outputs(inputs, tmp_path / "in", tmp_path / "out" / "in", {bad})
    assert_journal_agrees(engine, run.job_id)


def test_a_file_swapped_for_a_fifo_after_the_scan_fails_without_a_timeout(engine: Engine, tmp_path: Path) -> None:
    inputs = write_inputs(tmp_path / "in", ["a.txt", "m.txt", "z.txt"])
    later = tmp_path / "in" / "z.txt"

    run = run_job(engine, target_spec(tmp_path, "swap_sibling_for_fifo", workers=1))

    assert run.finished.state is JobState.COMPLETED, run.finished
    [failure] = run.final_failures()
    assert (failure.input, failure.kind) == (str(later), FailureKind.INPUT_ERROR)
    assert failure.error == "cannot read input file: a FIFO (named pipe), not a regular file", failure.error
    del inputs[later]
    assert_outputs(inputs, tmp_path / "in", tmp_path / "out" / "in", set())


def test_a_job_that_writes_nothing_makes_no_output_folders(engine: Engine, tmp_path: Path) -> None:
    for sub in ("x", "y/z"):
        write_inputs(tmp_path / "in" / sub, ["1.txt", "2.txt"])
    (tmp_path / "out").mkdir()

    run = run_job(engine, target_spec(tmp_path, "do_nothing"))

    assert (run.finished.state, run.finished.done) == (JobState.COMPLETED, 4)
    assert list((tmp_path / "out").rglob("*")) == []


def test_what_a_processor_prints_goes_to_the_log_per_file(engine: Engine, tmp_path: Path) -> None:
    from batchmill.core.events import Log

    write_inputs(tmp_path / "in", ["a.txt", "b.txt"])

    run = run_job(engine, target_spec(tmp_path, "noisy_copy"))

    assert run.finished.done == 2
    printed = {e.message for e in run.of(Log) if "printed" in e.message}
    for name in ("a.txt", "b.txt"):
        [message] = [m for m in printed if m.startswith(f"{tmp_path / 'in' / name} printed")]
        for line in (f"noise on stdout from {name}", f"noise on stderr from {name}", f"child noise for {name}",
                     "child err"):
            assert line in message, message
