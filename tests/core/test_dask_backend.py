"""The Dask backend on a real LocalCluster (worker processes, loopback only): the same jobs give the
same outputs as on the local pool; a per-file timeout, a crash, worker recycling and a cancel keep
their meaning; a Dask worker killed mid-job costs nothing; and a job that cannot use Dask (not
installed, a malformed address, paths the workers cannot reach) stops before any file runs."""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

pytest.importorskip("distributed", reason="the dask extra is not installed: pip install 'batchmill[dask]'")

import targets  # noqa: E402
from batchmill.core.backends.base import BackendSettings  # noqa: E402
from batchmill.core.backends.dask import DaskBackend, open_dask_backend  # noqa: E402
from batchmill.core.engine import Engine  # noqa: E402
from batchmill.core.events import (  # noqa: E402
    FailureKind, FileFinished, FileStatus, JobState, Log, WorkerExited, WorkerStatus,
)
from batchmill.core.prepare import JobError  # noqa: E402
from batchmill.core.spec import JobSpec  # noqa: E402
from engine_driver import (  # noqa: E402
    Recorder, assert_one_failure, assert_outputs, leftovers, make_inputs, pids_alive, run_job,
)

pytestmark = pytest.mark.timeout(120)

UPPER_SCRIPT = '''
from pathlib import Path


def process(src: Path, dst: Path, suffix: str = "") -> int:
    data = src.read_bytes()
    dst.write_bytes(data.upper() + suffix.encode())
    return len(data)
'''


@pytest.fixture(autouse=True)
def test_processors(monkeypatch: pytest.MonkeyPatch) -> None:
    targets.register(monkeypatch)


@pytest.fixture
def engine(batchmill_home: Path) -> Iterator[Engine]:
    with Engine(batchmill_home) as engine:
        yield engine


def on_both(engine: Engine, spec: JobSpec, tmp_path: Path) -> tuple[Any, Any]:
    """Run ``spec`` on the local pool and on a 2-worker LocalCluster, each into its own output."""
    local = run_job(engine, spec.with_changes(output=str(tmp_path / "out-local"), workers=2), timeout=60)
    dask = run_job(engine, spec.with_changes(output=str(tmp_path / "out-dask"), workers=2, backend="dask"),
                   timeout=60)
    return local, dask


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_same_outputs(local: Any, dask: Any, tmp_path: Path) -> None:
    for run in (local, dask):
        assert run.finished.state is JobState.COMPLETED, run.finished
    counts = [(r.finished.total, r.finished.done, r.finished.failed, r.finished.skipped) for r in (local, dask)]
    assert counts[0] == counts[1], counts
    assert tree(tmp_path / "out-dask") == tree(tmp_path / "out-local")
    assert tree(tmp_path / "out-dask"), "the job made no output at all"
    logs = [e.message for e in dask.of(Log)]
    assert "running on dask (LocalCluster, 2 workers)" in logs, logs


# -- the same outputs as the local pool ----------------------------------------------------------
def test_checksum_manifest_is_the_same_on_dask(engine: Engine, tmp_path: Path) -> None:
    make_inputs(tmp_path / "in", good=24, bad=())
    spec = JobSpec("checksum", (str(tmp_path / "in"),), str(tmp_path / "out"))

    local, dask = on_both(engine, spec, tmp_path)

    assert_same_outputs(local, dask, tmp_path)
    assert (tmp_path / "out-dask" / "in" / "SHA256SUMS").read_text().count("\n") == 24


def test_image_outputs_are_the_same_on_dask(engine: Engine, tmp_path: Path) -> None:
    image = pytest.importorskip("PIL.Image", reason="the image extra (Pillow) is not installed")
    pytest.importorskip("batchmill.core.processors.image", reason="the image processor is not in this build")
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(6):
        picture = image.linear_gradient("L").resize((60 + 10 * i, 40)).convert("RGB")
        picture.save(folder / f"photo{i}.{'jpg' if i % 2 else 'png'}")
    spec = JobSpec("image", (str(folder),), str(tmp_path / "out"), params={"format": "png", "max_size": "32"})

    local, dask = on_both(engine, spec, tmp_path)

    assert_same_outputs(local, dask, tmp_path)
    assert sorted(tree(tmp_path / "out-dask")) == [f"in/photo{i}.png" for i in range(6)]


def test_python_script_outputs_are_the_same_on_dask(engine: Engine, tmp_path: Path) -> None:
    script = tmp_path / "upper.py"
    script.write_text(UPPER_SCRIPT)
    make_inputs(tmp_path / "in", good=10, bad=())
    spec = JobSpec("python", (str(tmp_path / "in"),), str(tmp_path / "out"),
                   params={"script": str(script), "suffix": "!"})

    local, dask = on_both(engine, spec, tmp_path)

    assert_same_outputs(local, dask, tmp_path)
    results = {r.input: r.result for r in engine.journal.files(dask.job_id, (FileStatus.DONE,))}
    assert results == {str(p): len(p.read_bytes()) for p in (tmp_path / "in").iterdir()}


def test_a_lambda_runs_on_dask_and_fails_the_same_way(engine: Engine, tmp_path: Path) -> None:
    make_inputs(tmp_path / "in", good=8)
    spec = JobSpec("test-lambda", (str(tmp_path / "in"),), str(tmp_path / "out"))

    local, dask = on_both(engine, spec, tmp_path)

    assert tree(tmp_path / "out-dask") == tree(tmp_path / "out-local")
    assert tree(tmp_path / "out-dask")["in/01.txt"] == (tmp_path / "in" / "01.txt").read_bytes()[::-1]
    bad = tmp_path / "in" / "bad.txt"
    for run in (local, dask):
        assert_one_failure(engine, run, bad, FailureKind.PROCESSOR_ERROR, "processor raised ZeroDivisionError")


# -- per-file failures keep their meaning ------------------------------------------------------------
@pytest.mark.parametrize("target, kind, message", [
    ("hang_on_bad", FailureKind.TIMEOUT, "ran longer than the 1 s timeout; its worker process was killed"),
    ("exit_on_bad", FailureKind.WORKER_DIED, "the worker process exited with code 3 while processing this file"),
])
def test_a_hang_or_a_crash_costs_one_file_on_dask(engine: Engine, tmp_path: Path, target: str,
                                                  kind: FailureKind, message: str) -> None:
    inputs = make_inputs(tmp_path / "in", good=10)
    spec = JobSpec("test-target", (str(tmp_path / "in"),), str(tmp_path / "out"), params={"target": target},
                   workers=2, timeout_s=1.0, backend="dask")

    run = run_job(engine, spec, timeout=60)

    bad = tmp_path / "in" / "bad.txt"
    assert_one_failure(engine, run, bad, kind, message)
    assert_outputs(inputs, tmp_path / "in", tmp_path / "out" / "in", {bad})


def test_workers_are_recycled_after_max_files_on_dask(engine: Engine, tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path / "in", good=10, bad=())
    spec = JobSpec("test-target", (str(tmp_path / "in"),), str(tmp_path / "out"),
                   params={"target": "copy_upper"}, workers=1, max_files_per_worker=3, backend="dask")

    run = run_job(engine, spec, timeout=60)

    assert run.finished.state is JobState.COMPLETED and run.finished.done == 10, run.finished
    files_per_pid = Counter(r.result for r in engine.journal.files(run.job_id, (FileStatus.DONE,)))
    assert len(files_per_pid) == 4 and max(files_per_pid.values()) == 3, files_per_pid
    assert_outputs(inputs, tmp_path / "in", tmp_path / "out" / "in", set())


def test_cancel_kills_the_running_files_on_dask_promptly(engine: Engine, tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path / "in", good=6)
    out = tmp_path / "out" / "in"
    spec = JobSpec("test-target", (str(tmp_path / "in"),), str(tmp_path / "out"),
                   params={"target": "partial_then_copy", "delay": 0.3}, workers=2, backend="dask")
    recorder = Recorder(engine)
    job_id = engine.submit(spec)
    busy = recorder.wait_for(WorkerStatus, lambda e: e.input == str(tmp_path / "in" / "bad.txt"), timeout=60)
    recorder.wait_for(FileFinished)
    assert leftovers(out), "the hanging file should have a partial temporary output by now"

    cancelled_at = time.monotonic()
    engine.cancel(job_id)
    run = recorder.finish(job_id, timeout=10)

    assert time.monotonic() - cancelled_at < 3.0  # not waiting for the 60 s file
    assert run.finished.state is JobState.CANCELLED
    assert busy.pid not in pids_alive({busy.pid})  # the Batchmill worker inside the Dask worker
    assert leftovers(out) == []
    done = {Path(r.input) for r in engine.journal.files(job_id, (FileStatus.DONE,))}
    assert done and len(done) == run.finished.done < len(inputs)
    assert_outputs(inputs, tmp_path / "in", out, failed=set(inputs) - done)


# -- losing a Dask worker ------------------------------------------------------------------------------
def test_a_killed_dask_worker_costs_nothing(engine: Engine, tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path / "in", good=40, bad=())
    spec = JobSpec("test-target", (str(tmp_path / "in"),), str(tmp_path / "out"),
                   params={"target": "copy_upper", "delay": 0.1}, workers=2, backend="dask")
    recorder = Recorder(engine)
    job_id = engine.submit(spec)
    busy = recorder.wait_for(WorkerStatus, lambda e: e.file_id is not None and e.pid is not None, timeout=60)
    # The Batchmill worker a Dask worker holds is its child: kill that Dask worker mid-batch.
    dask_worker = psutil.Process(busy.pid).parent()
    assert dask_worker is not None and dask_worker.pid != os.getpid()
    os.kill(dask_worker.pid, signal.SIGKILL)

    run = recorder.finish(job_id, timeout=90)

    assert run.finished.state is JobState.COMPLETED, run.finished
    assert (run.finished.total, run.finished.done, run.finished.failed) == (40, 40, 0)
    assert Counter(e.input for e in run.of(FileFinished)) == Counter(str(p) for p in inputs)  # once each
    records = engine.journal.files(job_id, (FileStatus.DONE,))
    assert len(records) == 40 and {r.attempts for r in records} == {1}
    assert_outputs(inputs, tmp_path / "in", tmp_path / "out" / "in", set())
    assert any("left the cluster" in e.reason for e in run.of(WorkerExited)), run.of(WorkerExited)
    assert busy.label.startswith("tcp://127.0.0.1:")  # the workers panel names the Dask worker


# -- jobs that cannot start --------------------------------------------------------------------------
def test_without_dask_installed_the_job_says_how_to_get_it(engine: Engine, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    make_inputs(tmp_path / "in", good=2, bad=())
    monkeypatch.setitem(sys.modules, "distributed", None)  # what an install without the extra sees

    run = run_job(engine, JobSpec("checksum", (str(tmp_path / "in"),), str(tmp_path / "out"), backend="dask"))

    assert run.finished.state is JobState.ERROR
    assert run.finished.error == "the dask backend needs Dask: pip install 'batchmill[dask]'"


def test_a_malformed_scheduler_address_is_named(engine: Engine, tmp_path: Path) -> None:
    make_inputs(tmp_path / "in", good=2, bad=())

    run = run_job(engine, JobSpec("checksum", (str(tmp_path / "in"),), str(tmp_path / "out"),
                                  scheduler="my-scheduler"))

    assert run.finished.state is JobState.ERROR
    assert run.finished.error == ("cannot connect to the Dask scheduler at my-scheduler: "
                                  "missing port number in address 'my-scheduler'")


# -- files the workers cannot reach ----------------------------------------------------------------------
@pytest.fixture
def dask_backend(tmp_path: Path) -> Iterator[DaskBackend]:
    scratch = tempfile.mkdtemp(dir=tmp_path)
    backend = open_dask_backend(None, scratch, lambda event: None)
    try:
        backend.configure(BackendSettings(workers=1))
        yield backend
    finally:
        backend.shutdown()


def test_paths_the_workers_cannot_reach_stop_the_job_first(dask_backend: DaskBackend, tmp_path: Path) -> None:
    present = make_inputs(tmp_path / "in", good=1, bad=())
    [address] = [s.label for s in dask_backend.status()]
    a_file = next(iter(present))
    output = tmp_path / "new" / "out"

    dask_backend.check_job([str(tmp_path / "in")], str(output))  # reachable: no error, and no trace left
    assert not (tmp_path / "new").exists()
    with pytest.raises(JobError) as missing:
        dask_backend.check_job([str(tmp_path / "in"), str(tmp_path / "elsewhere")], str(output))
    with pytest.raises(JobError) as unwritable:
        dask_backend.check_job([str(tmp_path / "in")], str(a_file / "out"))

    hint = "inputs and the output folder must be reachable from every Dask worker, e.g. on a shared file system"
    assert str(missing.value) == f"the Dask worker {address} cannot see the input {tmp_path / 'elsewhere'}; {hint}"
    assert str(unwritable.value).startswith(
        f"the Dask worker {address} cannot write in the output folder {a_file / 'out'}: ")
    assert str(unwritable.value).endswith(hint)


def test_dask_workers_sharing_a_machine_probe_a_new_output_folder_at_once(tmp_path: Path) -> None:
    """Each worker's probe makes the missing output folder and removes it again: one worker's
    removal must not fail another's probe (as it did, now and then, on a 2-worker LocalCluster)."""
    from concurrent.futures import ThreadPoolExecutor

    from batchmill.core.backends.dask_worker import probe_paths

    (tmp_path / "in").mkdir()
    for round_ in range(30):
        output = str(tmp_path / f"new{round_}" / "out")
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: probe_paths([str(tmp_path / "in")], output), range(8)))
        assert answers == [None] * 8
    assert list(tmp_path.rglob(".batchmill-probe-*")) == []


def test_what_a_processor_prints_reaches_the_log_on_dask_too(engine: Engine, tmp_path: Path) -> None:
    make_inputs(tmp_path / "in", good=2, bad=())
    spec = JobSpec("test-target", (str(tmp_path / "in"),), str(tmp_path / "out"), params={"target": "noisy_copy"},
                   workers=2, backend="dask")

    run = run_job(engine, spec, timeout=60)

    assert (run.finished.state, run.finished.done) == (JobState.COMPLETED, 2), run.finished
    printed = [e.message for e in run.of(Log) if " printed:\n" in e.message]
    assert sorted(m.split(" printed:")[0] for m in printed) == sorted(str(p) for p in (tmp_path / "in").iterdir())
    assert all("noise on stdout from" in m and "child noise for" in m for m in printed), printed
