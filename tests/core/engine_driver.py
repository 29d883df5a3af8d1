"""Driving an Engine from a test: record its events, wait for one, and check outputs on disk.

Waits are bounded everywhere, so a hung engine fails the test with what it saw instead of
hanging it (pytest-timeout is the second line of defence).
"""

from __future__ import annotations

import hashlib
import os
import queue
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from batchmill.core.engine import Engine
from batchmill.core.events import Event, FailureKind, FileFailed, FileStatus, JobFinished, JobState
from batchmill.core.spec import JobSpec

from targets import BAD_PREFIX, expected_output

E = TypeVar("E", bound=Event)

START_METHODS = ["spawn"] + (["forkserver"] if sys.platform != "win32" else [])
TMP_NAME = re.compile(r"^\..+\.[0-9a-f]{8}\.bmpart$")
WAIT_S = 30.0


def prepare_start_method(method: str) -> str:
    """Start the forkserver before a test's leak check looks, so it is not mistaken for a leak:
    like the resource tracker, it is one helper process per test session, not per engine."""
    if method == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()
    return method


@dataclass
class Run:
    job_id: str
    events: list[Event]
    finished: JobFinished

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]

    def final_failures(self) -> list[FileFailed]:
        return [e for e in self.of(FileFailed) if not e.will_retry]


class Recorder:
    """Keeps every event the engine has put on its queue, in order."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.events: list[Event] = []

    def pull(self, seconds: float) -> list[Event]:
        """Everything that arrives within ``seconds``."""
        new: list[Event] = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                event = self.engine.events.get(timeout=min(left, 0.05))
            except queue.Empty:
                continue
            self.events.append(event)
            new.append(event)
        return new

    def wait_for(self, kind: type[E], where: Callable[[E], bool] = lambda e: True, timeout: float = WAIT_S,
                 since: int = 0) -> E:
        """The first event (from index ``since``) of ``kind`` that matches; fails the test after ``timeout``."""
        index = since
        deadline = time.monotonic() + timeout
        while True:
            while index < len(self.events):
                event = self.events[index]
                index += 1
                if isinstance(event, kind) and where(event):
                    return event
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"no {kind.__name__} within {timeout} s; saw: {self.events[-15:]}")
            try:
                self.events.append(self.engine.events.get(timeout=min(left, 0.5)))
            except queue.Empty:
                pass

    def finish(self, job_id: str, timeout: float = WAIT_S) -> Run:
        finished = self.wait_for(JobFinished, lambda e: e.job_id == job_id, timeout)
        mine = [e for e in self.events if getattr(e, "job_id", job_id) == job_id]
        return Run(job_id, mine, finished)


def run_job(engine: Engine, spec: JobSpec, timeout: float = WAIT_S) -> Run:
    recorder = Recorder(engine)
    return recorder.finish(engine.submit(spec), timeout)


def make_inputs(folder: Path, good: int = 12, bad: tuple[str, ...] = ("bad.txt",)) -> dict[Path, bytes]:
    """``good`` files that sort before the ``bad`` ones; returns every file with its content."""
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[Path, bytes] = {}
    for i in range(1, good + 1):
        files[folder / f"{i:02d}.txt"] = f"file number {i}\n".encode() * i
    for name in bad:
        assert name.startswith(BAD_PREFIX)
        files[folder / name] = b"the troublesome one\n"
    for path, data in files.items():
        path.write_bytes(data)
    return files


def leftovers(folder: Path) -> list[Path]:
    """Temporary outputs (``.name.<8 hex>.bmpart``) anywhere under ``folder``."""
    return [Path(root) / name for root, _, names in os.walk(folder) for name in names if TMP_NAME.match(name)]


def assert_outputs(inputs: dict[Path, bytes], in_dir: Path, out_dir: Path, failed: set[Path],
                   transform: Callable[[bytes], bytes] = expected_output) -> None:
    """Every file not in ``failed`` has its correct output; failed ones have none; no temporary is left."""
    for src, data in inputs.items():
        dst = out_dir / src.relative_to(in_dir)
        if src in failed:
            assert not dst.exists(), f"{dst} exists although {src.name} failed"
        else:
            assert dst.read_bytes() == transform(data), f"wrong output for {src.name}"
    assert leftovers(out_dir) == []


def assert_one_failure(engine: Engine, run: Run, bad: Path, kind: FailureKind, message: str) -> FileFailed:
    """Exactly ``bad`` failed, with ``message`` (a prefix) in the event and the journal; the job completed."""
    assert run.finished.state is JobState.COMPLETED, run.finished
    assert (run.finished.total, run.finished.failed) == (run.finished.done + 1, 1), run.finished
    failures = run.final_failures()
    assert [(f.input, f.kind) for f in failures] == [(str(bad), kind)], failures
    assert failures[0].error.startswith(message), failures[0].error
    [record] = engine.journal.files(run.job_id, (FileStatus.FAILED,))
    assert (record.input, record.kind, record.error) == (str(bad), kind.value, failures[0].error)
    return failures[0]


def snapshot(folder: Path) -> dict[str, tuple[str, int, int]]:
    """Every file under ``folder``: (sha256, mtime_ns, mode), to prove inputs were left untouched."""
    state: dict[str, tuple[str, int, int]] = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = Path(root) / name
            st = path.stat()
            state[str(path.relative_to(folder))] = (hashlib.sha256(path.read_bytes()).hexdigest(),
                                                    st.st_mtime_ns, st.st_mode)
    return state


def pids_alive(pids: set[int]) -> set[int]:
    import psutil

    alive = set()
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.add(pid)
        except psutil.NoSuchProcess:
            pass
    return alive


def iter_results(engine: Engine, job_id: str) -> Iterator[tuple[str, Any]]:
    """(input, journaled result) of every done file."""
    for record in engine.journal.files(job_id, (FileStatus.DONE,)):
        yield record.input, record.result
