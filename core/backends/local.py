"""The local backend: Batchmill's own pool of spawn worker processes on this machine.

It always knows which worker holds which batches, and (through each worker's
shared-memory slot) which file a worker is on, so a crash, a hang or an abort
costs one file and one process — never the batch, never the pool.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable
from multiprocessing.context import BaseContext
from typing import Any, NamedTuple

from batchmill.core.backends.base import Backend, BackendSettings, Lost, WorkerGone, WorkerNow
from batchmill.core.events import FailureKind
from batchmill.core.messages import Failure, PayloadBroken, Results, Returned, RunBatch, Withdraw
from batchmill.core.pool import WorkerHandle, WorkerPool, describe_exit

BATCHES_PER_WORKER = 2  # one running, one waiting in the pipe: no idle gap between batches
# A worker this long on one file (or, between files, this long since it was last sent a batch)
# while another sits idle with nothing to hand out gives back the files it has not started:
# long enough that the tail of a tiny-file job never churns, short beside a file worth waiting for.
WITHDRAW_AFTER_S = 0.1


class Holding(NamedTuple):
    """What one worker holds, as the withdraw policy sees it."""

    worker: int
    busy_s: float  # on its current file, or since its last batch was sent when between files
    unstarted: tuple[tuple[int, int], ...]  # (batch id, files not started), batches not yet asked back


def batches_to_withdraw(holdings: Iterable[Holding], idle: int, after_s: float = WITHDRAW_AFTER_S) -> list[int]:
    """The batches to ask back so that ``idle`` workers get work: from the workers stuck longest
    behind their current file, most queued files first, one holder per idle worker."""
    if idle <= 0:
        return []
    stuck = [h for h in holdings if h.busy_s >= after_s and any(n for _, n in h.unstarted)]
    stuck.sort(key=lambda h: (-sum(n for _, n in h.unstarted), -h.busy_s))
    return [batch_id for h in stuck[:idle] for batch_id, n in h.unstarted if n]


class LocalBackend(Backend):
    name = "local"

    def __init__(self, context: BaseContext, scratch_root: str) -> None:
        self.pool = WorkerPool(context, scratch_root)
        self.settings = BackendSettings(workers=1)
        self.holder: dict[int, WorkerHandle] = {}  # batch id -> worker
        self.last_sent: dict[int, float] = {}  # worker id -> time.time() of its last batch
        self.withdrawing: set[int] = set()  # batch ids asked back, not answered yet
        self.start_method = context.get_start_method()

    def describe(self) -> str:
        return f"local pool ({self.start_method}, {self.settings.workers} workers)"

    # -- size -------------------------------------------------------------
    def configure(self, settings: BackendSettings) -> None:
        self.settings = settings
        self.fit()

    def fit(self) -> None:
        """Grow or shrink the pool to the target; extra workers finish their batches first."""
        active = [w for w in self.pool.live() if not w.retiring]
        while len(active) < self.settings.workers:
            active.append(self.pool.start())
        # Idle workers go first, so shrinking never waits on a long file.
        for worker in sorted(active, key=lambda w: len(w.batches))[: max(0, len(active) - self.settings.workers)]:
            self.pool.ask_to_stop(worker)

    def resize(self, workers: int) -> None:
        self.settings = dataclasses.replace(self.settings, workers=workers)
        self.fit()

    # -- sending ----------------------------------------------------------
    def _open_workers(self) -> list[WorkerHandle]:
        return [w for w in self.pool.live() if not w.retiring and len(w.batches) < BATCHES_PER_WORKER]

    def capacity(self) -> int:
        return sum(BATCHES_PER_WORKER - len(w.batches) for w in self._open_workers())

    def max_batch(self) -> int | None:
        limit = self.settings.max_files_per_worker
        open_workers = self._open_workers()
        if not limit or not open_workers:
            return None
        return max(1, max(limit - w.files_sent for w in open_workers))

    def send(self, batch: RunBatch) -> None:
        candidates = self._open_workers()
        if not candidates:
            raise RuntimeError("no worker can take a batch now; check capacity() first")
        worker = min(candidates, key=lambda w: (len(w.batches), -self._allowance(w)))
        if batch.payload_key in worker.payload_keys:
            batch = dataclasses.replace(batch, payload=None)  # it holds the processor already
        self.pool.send(worker, batch, list(batch.file_ids))
        worker.payload_keys.add(batch.payload_key)
        self.holder[batch.batch_id] = worker
        self.last_sent[worker.id] = time.time()
        limit = self.settings.max_files_per_worker
        if limit and worker.files_sent >= limit:
            self.pool.ask_to_stop(worker)  # recycled: a fresh worker takes its place now
            self.fit()

    def reclaim(self) -> None:
        """Ask workers stuck on a long file to give back the files queued behind it, while
        another worker is idle (the engine calls this when it has nothing left to hand out)."""
        open_workers = [w for w in self.pool.live() if not w.retiring]
        idle = sum(1 for w in open_workers if not w.batches)
        if not idle:
            return
        now = time.time()
        for batch_id in batches_to_withdraw((self._holding(w, now) for w in open_workers if w.batches), idle):
            worker = self.holder.get(batch_id)
            if worker is None:
                continue
            try:
                worker.conn.send(Withdraw(batch_id))
            except OSError:
                continue  # it is dying; its sentinel gives the batch back
            self.withdrawing.add(batch_id)

    def _holding(self, worker: WorkerHandle, now: float) -> Holding:
        current = worker.current()
        busy = now - (current[1] if current is not None else self.last_sent.get(worker.id, now))
        on = current[0] if current is not None else None
        unstarted = tuple((b.batch_id, len(b.pending) - (on in b.pending)) for b in worker.batches.values()
                          if b.batch_id not in self.withdrawing)
        return Holding(worker.id, busy, unstarted)

    def _allowance(self, worker: WorkerHandle) -> int:
        limit = self.settings.max_files_per_worker
        return limit - worker.files_sent if limit else 1 << 30

    # -- news -------------------------------------------------------------
    def waitables(self) -> list[Any]:
        objects: list[Any] = []
        for worker in self.pool.workers.values():
            objects += [worker.conn, worker.sentinel]
        return objects

    def collect(self, ready: list[Any]) -> list[tuple[int, object]]:
        news: list[tuple[int, object]] = []
        ready_conns = {id(obj) for obj in ready if not isinstance(obj, int)}
        ready_sentinels = {obj for obj in ready if isinstance(obj, int)}
        dead: list[WorkerHandle] = []
        for worker in list(self.pool.workers.values()):
            if id(worker.conn) in ready_conns and not self._drain(worker, news):
                dead.append(worker)
            if worker.sentinel in ready_sentinels:
                dead.append(worker)
        for worker in dict.fromkeys(dead):
            if worker.id in self.pool.workers:
                self._drain(worker, news)
                news += self._on_death(worker)
        news += self._check_timeouts()
        return news

    def _drain(self, worker: WorkerHandle, news: list[tuple[int, object]]) -> bool:
        """Read everything a worker has sent. False if its pipe is closed."""
        try:
            while worker.conn.poll():
                message = worker.conn.recv()
                if isinstance(message, Results):
                    batch = worker.batches.get(message.batch_id)
                    if batch is not None:
                        batch.pending.difference_update(message.file_ids)
                        worker.files_done += len(message.file_ids)
                        if message.batch_done:
                            del worker.batches[message.batch_id]
                            self.holder.pop(message.batch_id, None)
                            self.withdrawing.discard(message.batch_id)
                elif isinstance(message, Returned):
                    worker.batches.pop(message.batch_id, None)
                    self.holder.pop(message.batch_id, None)
                    self.withdrawing.discard(message.batch_id)
                elif isinstance(message, PayloadBroken):
                    worker.batches.pop(message.batch_id, None)
                    self.holder.pop(message.batch_id, None)
                news.append((worker.id, message))
        except (EOFError, OSError):
            return False
        return True

    def _release(self, worker: WorkerHandle, failure: Failure | None, unexplained: bool) -> list[tuple[int, object]]:
        """A Lost for each batch the worker held; the one it was working on names its file."""
        current = worker.current()
        news: list[tuple[int, object]] = []
        pinned = current is not None and any(current[0] in batch.pending for batch in worker.batches.values())
        # One death is one death: unexplained (no file to blame) at most once, however many
        # batches the worker held. A batch queued behind the one that crashed was never started,
        # so it says nothing about whether the processor can load.
        blame_death = unexplained and not pinned
        for batch in list(worker.batches.values()):
            here = current[0] if current is not None and current[0] in batch.pending else None
            news.append((worker.id, Lost(batch.batch_id, here, failure if here is not None else None,
                                         blame_death)))
            blame_death = False
            self.holder.pop(batch.batch_id, None)
            self.withdrawing.discard(batch.batch_id)
        worker.batches.clear()
        return news

    def _on_death(self, worker: WorkerHandle) -> list[tuple[int, object]]:
        worker.process.join(1.0)
        reason = describe_exit(worker.process.exitcode)
        expected = worker.retiring and not worker.batches
        failure = Failure(FailureKind.WORKER_DIED, f"{reason} while processing this file")
        news = self._release(worker, failure, unexplained=True)
        self.pool.forget(worker)
        news.append((worker.id, WorkerGone(worker.id, worker.pid, reason, expected)))
        self.fit()
        return news

    def _check_timeouts(self) -> list[tuple[int, object]]:
        limit = self.settings.timeout_s
        if limit is None:
            return []
        news: list[tuple[int, object]] = []
        now = time.time()
        for worker in list(self.pool.workers.values()):
            current = worker.current()
            if current is None or not worker.batches or now - current[1] < limit:
                continue
            if not self._drain(worker, news):
                continue  # it died just now; its sentinel says so next round
            current = worker.current()
            if current is None or now - current[1] < limit:
                continue
            self.pool.kill(worker)
            failure = Failure(FailureKind.TIMEOUT, f"ran longer than the {limit:g} s timeout; "
                                                   "its worker process was killed")
            news += self._release(worker, failure, unexplained=False)
            news.append((worker.id, WorkerGone(worker.id, worker.pid, "killed: file timed out", False)))
            self.fit()
        return news

    def next_deadline(self) -> float | None:
        limit = self.settings.timeout_s
        if limit is None:
            return None
        now = time.time()
        deadlines = [current[1] + limit - now for w in self.pool.workers.values()
                     if w.batches and (current := w.current()) is not None]
        return max(0.0, min(deadlines)) if deadlines else None

    def abort(self, reason: str = "stopped") -> list[tuple[int, object]]:
        news: list[tuple[int, object]] = []
        for worker in list(self.pool.workers.values()):
            if worker.batches:
                self._drain(worker, news)
                self.pool.kill(worker)
                news += self._release(worker, None, unexplained=False)
                news.append((worker.id, WorkerGone(worker.id, worker.pid, reason, False)))
        return news

    def status(self) -> list[WorkerNow]:
        states = []
        for worker in self.pool.live():
            current = worker.current() if worker.batches else None
            states.append(WorkerNow(worker.id, worker.pid, current[0] if current else None,
                                    current[1] if current else None))
        return states

    def retire_workers(self) -> None:
        self.resize(0)

    def shutdown(self) -> None:
        self.pool.shutdown()
        self.holder.clear()
