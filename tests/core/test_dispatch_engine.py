"""The engine's side of dispatch, on a scripted fake backend (no processes, milliseconds): the
first files go one per worker, the engine asks for files back when it has nothing left to hand
out, and files given back go out again, each done once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import batchmill.core.engine
from batchmill.core.backends.base import Backend, BackendSettings, WorkerNow
from batchmill.core.engine import Engine
from batchmill.core.events import JobState
from batchmill.core.messages import Results, Returned, RunBatch
from batchmill.core.spec import JobSpec
from engine_driver import run_job

pytestmark = pytest.mark.timeout(30)


class ScriptedBackend(Backend):
    """Two fake workers holding up to two batches each. A worker finishes the batch at the head of
    its queue on every collect(), except a batch holding a file named ``long``, which finishes
    only once everything else is done; reclaim() gives back every batch queued behind one."""

    name = "scripted"
    instances: list[ScriptedBackend] = []

    def __init__(self, _context: Any, _scratch_root: str) -> None:
        self.settings = BackendSettings(workers=2)
        self.queues: dict[int, list[RunBatch]] = {1: [], 2: []}
        self.sent: list[tuple[int, int]] = []  # (worker, files in the batch)
        self.reclaims = 0
        self.given_back: list[int] = []
        self.news: list[tuple[int, object]] = []
        ScriptedBackend.instances.append(self)

    def configure(self, settings: BackendSettings) -> None:
        self.settings = settings

    def waitables(self) -> list[Any]:
        return []

    def capacity(self) -> int:
        return sum(2 - len(queue) for queue in self.queues.values())

    def max_batch(self) -> int | None:
        return None

    def send(self, batch: RunBatch) -> None:
        worker = min(self.queues, key=lambda w: len(self.queues[w]))
        self.queues[worker].append(batch)
        self.sent.append((worker, len(batch.file_ids)))

    def is_long(self, batch: RunBatch) -> bool:
        return any(Path(src).name == "long" for src in batch.srcs)

    def collect(self, ready: list[Any]) -> list[tuple[int, object]]:
        news, self.news = self.news, []
        others_busy = any(not self.is_long(b) for q in self.queues.values() for b in q)
        for worker, queue in self.queues.items():
            if queue and (not self.is_long(queue[0]) or not others_busy):
                batch = queue.pop(0)
                n = len(batch.file_ids)
                news.append((worker, Results(batch.batch_id, batch.file_ids, (0.001,) * n, ("x",) * n,
                                             (0,) * n, (False,) * n, (), True)))
        return news

    def reclaim(self) -> None:
        self.reclaims += 1
        if not any(not queue for queue in self.queues.values()):
            return  # no worker idle
        for worker, queue in self.queues.items():
            if queue and self.is_long(queue[0]):
                for batch in queue[1:]:
                    self.news.append((worker, Returned(batch.batch_id, batch.file_ids)))
                    self.given_back += batch.file_ids
                del queue[1:]

    def abort(self, reason: str = "stopped") -> list[tuple[int, object]]:
        return []

    def next_deadline(self) -> float | None:
        return None

    def status(self) -> list[WorkerNow]:
        return []

    def shutdown(self) -> None:
        pass


@pytest.fixture
def engine(batchmill_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    ScriptedBackend.instances.clear()
    monkeypatch.setattr(batchmill.core.engine, "LocalBackend", ScriptedBackend)
    with Engine(batchmill_home) as engine:
        yield engine


def test_files_queued_behind_a_long_one_are_given_back_and_done_once(engine: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("long", "m1", "m2", "m3", "m4", "m5"):  # "long" sorts first: it goes out first
        (folder / name).write_text(name)
    run = run_job(engine, JobSpec("checksum", (str(folder),), str(tmp_path / "out"), workers=2))
    assert (run.finished.state, run.finished.done, run.finished.failed) == (JobState.COMPLETED, 6, 0)
    [backend] = ScriptedBackend.instances
    assert backend.sent[:2] == [(1, 1), (2, 1)]  # one file per worker before any file is timed
    assert backend.reclaims > 0 and backend.given_back, backend.sent
    records = engine.journal.files(run.job_id)
    assert sorted(r.attempts for r in records) == [1] * 6  # a file given back is not an attempt
