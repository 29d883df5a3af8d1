"""An output that cannot be written fails that file with a message that says so; the job goes on.

The write error is real: the processor (tests/cli/scripts/journal_fsize.py) sets
``RLIMIT_FSIZE`` in its worker process, so the kernel refuses a big output with
EFBIG ("File too large"), just as a full disk refuses one with ENOSPC.
"""

from __future__ import annotations

import os
import queue
import runpy
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from batchmill.core.engine import Engine
from batchmill.core.events import Event, FailureKind, FileFailed, FileStatus, JobFinished, JobState, WorkerExited
from batchmill.core.outputs import is_tmp_name
from batchmill.core.spec import JobSpec

SCRIPTS = Path(__file__).parents[1] / "cli" / "scripts"
FSIZE_SCRIPT = SCRIPTS / "journal_fsize.py"
SLOW_SCRIPT = SCRIPTS / "journal_slow_copy.py"
LIMIT = 64 * 1024
SMALL_FILES = 8
JOB_TIMEOUT_S = 60.0

fsize_transform = runpy.run_path(str(FSIZE_SCRIPT))["transform"]
slow_transform = runpy.run_path(str(SLOW_SCRIPT))["transform"]


@pytest.fixture
def engine(batchmill_home: Path) -> Iterator[Engine]:
    with Engine(batchmill_home) as running:
        yield running


def run_to_end(engine: Engine, spec: JobSpec) -> tuple[str, JobFinished, list[Event]]:
    job_id = engine.submit(spec)
    seen: list[Event] = []
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            event = engine.events.get(timeout=0.2)
        except queue.Empty:
            continue
        seen.append(event)
        if isinstance(event, JobFinished) and event.job_id == job_id:
            return job_id, event, seen
    pytest.fail(f"job {job_id} did not finish within {JOB_TIMEOUT_S} s")


def make_inputs(folder: Path) -> dict[str, bytes]:
    folder.mkdir(parents=True)
    contents = {f"small{n}.txt": f"small file {n}\n".encode() for n in range(SMALL_FILES)}
    contents["big.txt"] = b"this one's output is too large\n"
    for name, data in contents.items():
        (folder / name).write_bytes(data)
    return contents


def leftover_tmps(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*") if is_tmp_name(p.name) or p.name.endswith(".bmpart")]


def test_output_too_large_fails_that_file_and_the_others_complete(engine: Engine, tmp_path: Path) -> None:
    contents = make_inputs(tmp_path / "in")
    out_folder = tmp_path / "out" / "in"
    spec = JobSpec("python", (str(tmp_path / "in"),), str(tmp_path / "out"), workers=2,
                   params={"script": str(FSIZE_SCRIPT), "limit": str(LIMIT)})

    job_id, finished, seen = run_to_end(engine, spec)

    big_output = out_folder / "big.txt"
    expected = f"cannot write output {big_output}: File too large"
    assert (finished.state, finished.done, finished.failed) == (JobState.COMPLETED, SMALL_FILES, 1)
    failures = [e for e in seen if isinstance(e, FileFailed)]
    assert [(f.input, f.kind, f.error) for f in failures] == [
        (str(tmp_path / "in" / "big.txt"), FailureKind.OUTPUT_ERROR, expected)]
    assert "File too large" in failures[0].traceback
    (record,) = engine.journal.files(job_id, (FileStatus.FAILED,))
    assert (record.input, record.kind, record.error) == (str(tmp_path / "in" / "big.txt"), "output-error", expected)
    assert not big_output.exists()
    assert leftover_tmps(tmp_path / "out") == []
    for name, data in contents.items():
        if name != "big.txt":
            assert (out_folder / name).read_bytes() == fsize_transform(data)


def test_cli_reports_the_unwritable_output_and_exits_1(tmp_path: Path) -> None:
    contents = make_inputs(tmp_path / "in")
    out_folder = tmp_path / "out" / "in"
    command = [sys.executable, "-m", "batchmill.gui.launcher", "run", "python", str(tmp_path / "in"),
               "--output", str(tmp_path / "out"), "--workers", "2",
               "--param", f"script={FSIZE_SCRIPT}", "--param", f"limit={LIMIT}"]

    result = subprocess.run(command, env=os.environ, capture_output=True, text=True, timeout=JOB_TIMEOUT_S)

    assert result.returncode == 1, result.stderr
    assert f"FAILED: {tmp_path / 'in' / 'big.txt'}: cannot write output {out_folder / 'big.txt'}: File too large" \
        in result.stderr
    assert f"completed: {SMALL_FILES} done, 1 failed" in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in out_folder.iterdir()) == sorted(set(contents) - {"big.txt"})
    assert leftover_tmps(tmp_path / "out") == []


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """Make ``folder`` unwritable even for root (who ignores permission bits): chmod, and as
    root the immutable attribute (ext4, xfs, btrfs); skip where neither can be had."""
    folder.chmod(0o555)
    immutable = False
    try:
        if os.geteuid() == 0:
            chattr = shutil.which("chattr")
            if chattr is None or subprocess.run([chattr, "+i", str(folder)], capture_output=True).returncode:
                pytest.skip("running as root and the output folder cannot be made immutable here")
            immutable = True
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        folder.chmod(0o755)


def test_read_only_output_folder_fails_its_files_and_the_others_complete(engine: Engine, tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    (inputs / "locked").mkdir(parents=True)
    (inputs / "open").mkdir()
    for folder in ("locked", "open"):
        for n in range(3):
            (inputs / folder / f"{n}.txt").write_bytes(f"{folder} {n}\n".encode())
    locked_out = tmp_path / "out" / "in" / "locked"
    locked_out.mkdir(parents=True)
    spec = JobSpec("python", (str(inputs),), str(tmp_path / "out"), workers=2,
                   params={"script": str(SLOW_SCRIPT), "delay": "0"})

    with read_only(locked_out):
        job_id, finished, seen = run_to_end(engine, spec)
        assert list(locked_out.iterdir()) == [], "nothing may be left in the locked folder"

    assert (finished.state, finished.done, finished.failed) == (JobState.COMPLETED, 3, 3)
    failures = sorted((f.input, f.kind, f.error) for f in seen if isinstance(f, FileFailed))
    assert [(f[0], f[1]) for f in failures] == [(str(inputs / "locked" / f"{n}.txt"), FailureKind.OUTPUT_ERROR)
                                                for n in range(3)]
    for n, (_, _, error) in enumerate(failures):
        assert error in (f"cannot write output {locked_out / f'{n}.txt'}: Permission denied",
                         f"cannot write output {locked_out / f'{n}.txt'}: Operation not permitted")
    assert len(engine.journal.files(job_id, (FileStatus.FAILED,))) == 3
    for n in range(3):
        data = f"open {n}\n".encode()
        assert (tmp_path / "out" / "in" / "open" / f"{n}.txt").read_bytes() == slow_transform(data)


def test_output_folder_blocked_by_a_file_fails_its_files_and_the_others_complete(engine: Engine,
                                                                                  tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    (inputs / "sub").mkdir(parents=True)
    (inputs / "sub" / "a.txt").write_bytes(b"a\n")
    (inputs / "b.txt").write_bytes(b"b\n")
    blocker = tmp_path / "out" / "in" / "sub"  # a file where the output folder "sub" should be
    blocker.parent.mkdir(parents=True)
    blocker.write_bytes(b"not a folder")
    spec = JobSpec("python", (str(inputs),), str(tmp_path / "out"), workers=1,
                   params={"script": str(SLOW_SCRIPT), "delay": "0"})

    job_id, finished, seen = run_to_end(engine, spec)

    assert (finished.state, finished.done, finished.failed, finished.error) == (JobState.COMPLETED, 1, 1, None)
    failures = [(f.input, f.kind, f.error) for f in seen if isinstance(f, FileFailed)]
    assert failures == [(str(inputs / "sub" / "a.txt"), FailureKind.OUTPUT_ERROR,
                         f"cannot write output {blocker / 'a.txt'}: cannot make its folder {blocker}: File exists")]
    assert [e for e in seen if isinstance(e, WorkerExited)] == [], "a failed output must not cost the worker"
    assert blocker.read_bytes() == b"not a folder"
    assert (tmp_path / "out" / "in" / "b.txt").read_bytes() == slow_transform(b"b\n")
