"""``batchmill run --scheduler`` against a Dask scheduler and two Dask workers started as separate
processes on 127.0.0.1, as an operator would start them; and the default, local run never
importing Dask at all."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.timeout(120)

SCRIPTS = Path(__file__).resolve().parent / "scripts"
UPPER = SCRIPTS / "run_upper.py"
START_S = 30.0
STOP_GRACE_S = 10.0


def batchmill(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "batchmill.gui.launcher", *args], capture_output=True, text=True,
                          timeout=90, cwd=cwd)


def dask_command() -> list[str]:
    script = Path(sys.executable).with_name("dask")
    return [str(script)] if script.exists() else [sys.executable, "-m", "dask"]


def make_folder(folder: Path, count: int, extra: tuple[str, ...] = ()) -> Path:
    folder.mkdir(parents=True)
    for i in range(count):
        (folder / f"file {i:02d}.txt").write_text(f"this is file {i}\n" * (i + 1))
    for name in extra:
        (folder / name).write_text(f"this is {name}\n")
    return folder


def stop_tree(processes: list[subprocess.Popen[bytes]]) -> None:
    """Stop the Dask processes as Ctrl-C would, workers before the scheduler (a worker whose
    scheduler vanishes while it closes hangs for a while), then kill whatever of their trees is left."""
    family = []
    for process in processes:
        try:
            family += psutil.Process(process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            pass
    for group in (processes[1:], processes[:1]):
        for process in group:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for process in group:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    for member in family:
        try:
            member.kill()
        except psutil.NoSuchProcess:
            pass


@pytest.fixture(scope="module")
def scheduler_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``dask scheduler`` and two ``dask worker`` processes (one thread each), loopback only.

    Module-scoped, so it is running before each test's leak check looks: the check then proves
    that ``batchmill`` leaves no Batchmill worker process behind inside the Dask workers."""
    distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")
    home = tmp_path_factory.mktemp("dask-cluster")
    info = home / "scheduler.json"
    loopback = ["--host", "127.0.0.1", "--no-dashboard", "--dashboard-address", "127.0.0.1:0"]
    processes: list[subprocess.Popen[bytes]] = []
    try:
        with open(home / "scheduler.log", "wb") as log:
            processes.append(subprocess.Popen(
                dask_command() + ["scheduler", "--port", "0", "--scheduler-file", str(info), *loopback],
                stdout=log, stderr=subprocess.STDOUT, cwd=home))
        deadline = time.monotonic() + START_S
        while not info.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.2)  # written in one go, but give the writer a moment to finish
        address = json.loads(info.read_text())["address"]
        for n in range(2):
            with open(home / f"worker{n}.log", "wb") as log:
                processes.append(subprocess.Popen(
                    dask_command() + ["worker", address, "--nthreads", "1", "--local-directory",
                                      str(home / f"worker{n}"), *loopback],
                    stdout=log, stderr=subprocess.STDOUT, cwd=home))
        with distributed.Client(address, timeout=START_S, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=START_S)
        yield address
    finally:
        stop_tree(processes)


def test_a_python_job_runs_on_an_external_cluster_through_scheduler(scheduler_address: str,
                                                                    tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "in", 12, extra=("bad.txt",))

    result = batchmill("run", "python", str(folder), "--output", str(tmp_path / "out"), "--param",
                       f"script={UPPER}", "--scheduler", scheduler_address, "--timeout", "20", "--json",
                       cwd=tmp_path)

    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    assert {k: data[k] for k in ("state", "total", "done", "failed", "skipped")} == {
        "state": "completed", "total": 13, "done": 12, "failed": 1, "skipped": 0}
    assert [(f["input"], f["error"]) for f in data["failures"]] == [
        (str(folder / "bad.txt"), "processor raised ValueError: bad.txt is not welcome")]
    assert f"running on dask ({scheduler_address}, 2 workers)" in result.stderr
    for src in folder.iterdir():
        if src.name != "bad.txt":
            assert (tmp_path / "out" / "in" / src.name).read_bytes() == src.read_bytes().upper()


def test_a_checksum_manifest_from_the_cluster_matches_the_files(scheduler_address: str, tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "in", 30)

    result = batchmill("run", "checksum", str(folder), "--output", str(tmp_path / "out"),
                       "--scheduler", scheduler_address, "--quiet", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    expected = "".join(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}\n"
                       for p in sorted(folder.iterdir(), key=lambda p: p.name))
    assert (tmp_path / "out" / "in" / "SHA256SUMS").read_text() == expected


def test_a_local_run_never_imports_dask(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "in", 5)
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}  # inherited by the worker processes too

    result = subprocess.run([sys.executable, "-m", "batchmill.gui.launcher", "run", "checksum", str(folder), "--output",
                             str(tmp_path / "out"), "--workers", "2", "--quiet"],
                            capture_output=True, text=True, timeout=90, env=env)

    assert result.returncode == 0, result.stderr
    imported = [line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()
                if line.startswith("import time:")]
    assert imported.count("batchmill.core.worker") == 3, "the import log should cover the CLI and both worker processes"
    assert [name for name in imported if name.split(".")[0] in ("dask", "distributed")] == []
