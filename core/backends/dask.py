"""The Dask backend: the same batches, run on a ``dask.distributed`` cluster.

  engine thread                  Dask scheduler             Dask worker (thread)         Batchmill worker
  -------------                  --------------             --------------------         ----------------
  send(RunBatch) ─submit()─────▶ places the task ─────────▶ run_batch(): its own ──────▶ the local pool's
                                 (re-runs it if its          LocalBackend, 1 worker,      worker_main: slot,
                                  worker dies)               cached per thread            timeout by kill
  wake pipe ◀─ event handler ◀── topic events ◀─log_event── Started/Progress/partial ◀── Results
  wake pipe ◀─ done callback ◀── task result ◀───────────── BatchReport: every outcome,
                                                             the pinned Lost, or broken
  collect(): (worker id, Started/Progress/Results/Lost/WorkerGone) — the local backend's messages

Why a Batchmill worker inside each Dask worker: Dask has no per-task timeout and a
task that crashes its process takes the Dask worker (and its other tasks) with it.
Running the batch in the local pool's worker process keeps the local backend's
promises on a cluster — a hang or a crash costs one file — with the same code.

Dask itself handles the loss of a whole Dask worker: it runs the batch again
elsewhere (outputs are replaced atomically, so a file done twice is harmless and
the engine counts it once). Only when Dask gives up (``KilledWorker``) does the
batch come back as ``Lost``, naming the last file it was seen on.

What runs inside the Dask workers is in ``batchmill.core.backends.dask_worker``. Nothing here
is imported unless a job asks for Dask: the default install has none.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
import pickle
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from batchmill.core.backends.base import Backend, BackendSettings, Lost, WorkerGone, WorkerNow
from batchmill.core.backends.dask_worker import (
    BatchReport, OnFile, WorkerNews, abort_batches, probe_paths, run_batch, stop_idle_workers,
)
from batchmill.core.events import Event, FailureKind, Log
from batchmill.core.messages import Failure, PayloadBroken, Results, RunBatch, Started
from batchmill.core.prepare import JobError

NEEDS_DASK = "the dask backend needs Dask: pip install 'batchmill[dask]'"
UNREACHABLE_HINT = "inputs and the output folder must be reachable from every Dask worker, e.g. on a shared file system"
BATCHES_PER_THREAD = 2  # one running, one queued on the scheduler: no idle gap between batches
CONNECT_TIMEOUT_S = 10.0
WAIT_FOR_WORKERS_S = 10.0
KEY_PREFIX = "batchmill-batch"


def open_dask_backend(scheduler: str | None, scratch: str, emit: Callable[[Event], None]) -> DaskBackend:
    """A backend on the cluster at ``scheduler``, or (None) on a LocalCluster started by ``configure``."""
    try:
        import distributed
        import distributed.comm
    except ImportError:
        raise JobError(NEEDS_DASK) from None
    if scheduler is None:
        return DaskBackend(None, None, scratch, emit)
    try:
        # Checked first: a Client that fails on a malformed address hangs at interpreter exit.
        distributed.comm.resolve_address(scheduler)
        client = distributed.Client(scheduler, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, ValueError, TypeError) as exc:
        raise JobError(f"cannot connect to the Dask scheduler at {scheduler}: {exc}") from None
    return DaskBackend(client, scheduler, scratch, emit)


@dataclass(eq=False)
class _Slot:
    """One thread of one Dask worker, shown as one row of the workers panel."""

    id: int
    address: str
    index: int
    pid: int | None = None
    batch_id: int | None = None  # the batch it was last seen on


@dataclass(eq=False)
class _Flight:
    batch_id: int
    file_ids: list[int]
    future: Any
    pending: set[int]
    slot: _Slot | None = None
    current: tuple[int, float] | None = None  # (file id, started at), last seen


class DaskBackend(Backend):
    name = "dask"
    batch_target_s = 0.5  # each batch is a Dask task: scheduler round trips cost milliseconds

    def __init__(self, client: Any, address: str | None, scratch: str, emit: Callable[[Event], None]) -> None:
        self.client = client
        self.address = address  # None: our own LocalCluster
        self.cluster: Any = None
        self.scratch = scratch
        self.emit = emit
        self.settings = BackendSettings(workers=1)
        self.topic = ""  # the client's id: see subscribe()
        self.key_prefix = f"{KEY_PREFIX}-{uuid.uuid4().hex[:12]}"
        self.flights: dict[int, _Flight] = {}
        self.threads: dict[str, int] = {}  # Dask worker address -> threads
        self.slots: dict[tuple[str, int], _Slot] = {}
        self.inbox: deque[tuple[str, Any]] = deque()  # filled by Dask's threads, emptied by collect()
        self.inbox_lock = threading.Lock()
        self.wake_r, self.wake_w = multiprocessing.Pipe(duplex=False)
        self.wake_pending = False
        self.members_changed = False
        self.subscribed = False
        self.warned_empty = False
        if client is not None:
            self.subscribe()

    def describe(self) -> str:
        where = "LocalCluster" if self.address is None else self.address
        count = len(self.threads)
        return f"dask ({where}, {count} worker{'s' if count != 1 else ''})"

    # -- set-up -----------------------------------------------------------
    def configure(self, settings: BackendSettings) -> None:
        self.settings = settings
        if self.address is not None:
            return  # the cluster's operator decides its size
        if self.cluster is None:
            self.start_cluster(settings.workers)
        elif len(self.cluster.workers) != settings.workers:
            self.cluster.scale(settings.workers)

    def start_cluster(self, workers: int) -> None:
        import distributed

        try:
            # Loopback only and no dashboard: nothing of ours listens on the network. (The
            # scheduler's small HTTP endpoint, which it always starts, gets a free loopback port
            # rather than the dashboard's 8787.)
            self.cluster = distributed.LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                dashboard_address=None, scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
                local_directory=os.path.join(self.scratch, "dask"), silence_logs=logging.CRITICAL)
            self.client = distributed.Client(self.cluster, set_as_default=False)
        except (OSError, RuntimeError, TimeoutError) as exc:
            self.shutdown()
            raise JobError(f"could not start a local Dask cluster: {exc}") from None
        self.subscribe()

    def subscribe(self) -> None:
        # The workers' news goes under the client's own id: the scheduler keeps a topic's recent
        # events, and empties this one when the client leaves, so a long-lived cluster keeps
        # nothing of ours after an engine closes.
        self.topic = self.client.id
        self.client.subscribe_topic(self.topic, self.on_worker_event)
        self.client.subscribe_topic("all", self.on_cluster_event)  # workers joining and leaving
        self.subscribed = True
        self.refresh_members()

    def check_job(self, inputs: list[str], output: str) -> None:
        if not self.threads:
            try:
                self.client.wait_for_workers(1, timeout=WAIT_FOR_WORKERS_S)
            except (TimeoutError, OSError):
                raise JobError(f"the Dask cluster at {self.address} has no workers "
                               f"(waited {WAIT_FOR_WORKERS_S:g} s)") from None
            self.refresh_members()
        try:
            answers = self.client.run(probe_paths, inputs, output, on_error="return")
        except Exception as exc:  # noqa: BLE001 - any failure of the cluster; reported to the operator
            raise JobError(f"could not reach the Dask workers: {type(exc).__name__}: {exc}") from None
        for address, answer in sorted(answers.items()):
            if isinstance(answer, BaseException):
                raise JobError(f"the Dask worker {address} cannot run Batchmill's code "
                               f"({type(answer).__name__}: {answer}); install batchmill on every worker")
            if answer is not None:
                raise JobError(f"the Dask worker {address} {answer}; {UNREACHABLE_HINT}")

    # -- sending ----------------------------------------------------------
    def capacity(self) -> int:
        return max(0, BATCHES_PER_THREAD * sum(self.threads.values()) - len(self.flights))

    def max_batch(self) -> int | None:
        return None  # recycling happens inside each Dask worker, between parts of a batch

    def send(self, batch: RunBatch) -> None:
        future = self.client.submit(run_batch, batch, self.settings, self.topic, pure=False,
                                    key=f"{self.key_prefix}-{batch.batch_id}")
        file_ids = list(batch.file_ids)
        self.flights[batch.batch_id] = _Flight(batch.batch_id, file_ids, future, set(file_ids))
        future.add_done_callback(lambda f, batch_id=batch.batch_id: self.on_future_done(batch_id, f))

    # -- news (posted by Dask's threads) ------------------------------------
    def post(self, kind: str, item: Any) -> None:
        """Called on Dask's threads: queue the news and wake the engine (one byte, not one per item)."""
        with self.inbox_lock:
            self.inbox.append((kind, item))
            if not self.wake_pending:
                self.wake_pending = True
                self.wake_w.send_bytes(b"!")

    def on_future_done(self, batch_id: int, future: Any) -> None:
        """On Dask's callback thread: fetch the outcome here, so the engine thread never waits on the network."""
        status = future.status
        outcome: Any = None
        try:
            if status == "finished":
                outcome = future.result()
            elif status == "error":
                outcome = future.exception()
        except BaseException as exc:  # noqa: BLE001 - e.g. the result's worker died before it was fetched
            status, outcome = "error", exc
        self.post("done", (batch_id, status, outcome))

    def on_worker_event(self, event: tuple[float, Any]) -> None:
        if isinstance(event[1], bytes):  # the scheduler's own notes on this client are dicts
            self.post("news", event[1])

    def on_cluster_event(self, event: tuple[float, Any]) -> None:
        msg = event[1]
        if isinstance(msg, dict) and msg.get("action") in ("add-worker", "remove-worker"):
            self.post("member", msg)

    def waitables(self) -> list[Any]:
        return [self.wake_r]

    def collect(self, ready: list[Any]) -> list[tuple[int, object]]:
        with self.inbox_lock:
            while self.wake_r.poll():
                self.wake_r.recv_bytes()
            self.wake_pending = False
            items = list(self.inbox)
            self.inbox.clear()
        news: list[tuple[int, object]] = []
        for kind, item in items:
            if kind == "news":
                news += self.on_news(pickle.loads(item))
            elif kind == "done":
                news += self.on_done(*item)
            elif kind == "member":
                news += self.on_member(item)
        if self.members_changed:
            self.refresh_members()
        return news

    def on_news(self, news: WorkerNews) -> list[tuple[int, object]]:
        message = news.message
        flight = self.flights.get(message.batch_id)
        if flight is None:
            return []  # a batch that ended (or was aborted) already
        slot = self.slot_of(news.address, news.slot)
        slot.pid, slot.batch_id, flight.slot = news.pid, message.batch_id, slot
        if isinstance(message, OnFile):
            flight.current = (message.file_id, message.started_at)
            return []
        if isinstance(message, Started):
            flight.current = (message.file_id, time.time())
        elif isinstance(message, Results):
            flight.pending.difference_update(message.file_ids)
        return [(slot.id, message)]

    def on_done(self, batch_id: int, status: str, outcome: Any) -> list[tuple[int, object]]:
        flight = self.flights.pop(batch_id, None)
        if flight is None:
            return []  # aborted: its Lost was reported then
        if flight.slot is not None and flight.slot.batch_id == batch_id:
            flight.slot.batch_id = None
        worker = flight.slot.id if flight.slot is not None else 0
        if status == "finished":
            return self.on_report(outcome, flight)
        if status == "cancelled":
            # Not by us (abort forgets its flights first): the scheduler or the connection went.
            self.emit(Log("warning", f"the Dask cluster cancelled batch {batch_id}; its files go out again"))
            return [(worker, Lost(batch_id, None, None, unexplained=True))]
        return self.on_task_error(flight, outcome, worker)

    def on_report(self, report: BatchReport, flight: _Flight) -> list[tuple[int, object]]:
        slot = self.slot_of(report.address, report.slot)
        complete = report.lost is None and report.broken is None and not report.aborted
        news: list[tuple[int, object]] = [(slot.id, Results.join(report.batch_id, report.results, complete))]
        if report.lost is not None:
            news.append((slot.id, report.lost))
        elif report.broken is not None:
            news.append((slot.id, report.broken))
        elif report.aborted:
            news.append((slot.id, Lost(report.batch_id, None, None)))
        return news

    def on_task_error(self, flight: _Flight, exc: BaseException | None, worker: int) -> list[tuple[int, object]]:
        from distributed.scheduler import KilledWorker

        if isinstance(exc, KilledWorker):
            # Dask ran the batch on several workers and each died: blame the file it was last on.
            reason = (f"the Dask workers running this file died {exc.allowed_failures + 1} times "
                      f"(the last one was {exc.last_worker.address})")
            current = flight.current[0] if flight.current is not None else None
            failure = Failure(FailureKind.WORKER_DIED, reason) if current is not None else None
            return [(worker, Lost(flight.batch_id, current, failure, unexplained=current is None))]
        # run_batch itself failed: not a file's fault, and it would fail again on every batch.
        failure = Failure(FailureKind.PAYLOAD_ERROR,
                          f"a batch could not run on the Dask cluster: {type(exc).__name__}: {exc}")
        return [(worker, PayloadBroken(flight.batch_id, failure))]

    # -- the cluster's workers --------------------------------------------
    def on_member(self, msg: dict[str, Any]) -> list[tuple[int, object]]:
        address = str(msg.get("worker", ""))
        if msg.get("action") == "add-worker":
            self.members_changed = True  # how many threads it has: asked for in collect()
            return []
        if address not in self.threads:
            return []
        del self.threads[address]
        expected = bool(msg.get("expected", False))
        news: list[tuple[int, object]] = []
        for key in [k for k in self.slots if k[0] == address]:
            slot = self.slots.pop(key)
            news.append((slot.id, WorkerGone(slot.id, slot.pid, f"the Dask worker {address} left the cluster",
                                             expected)))
        if not self.threads and not self.warned_empty:
            self.warned_empty = True
            self.emit(Log("warning", "the Dask cluster has no workers left; waiting for one to join"))
        return news

    def refresh_members(self) -> None:
        self.members_changed = False
        info = self.client.scheduler_info(n_workers=-1)
        self.threads = {address: int(w.get("nthreads", 1)) for address, w in info.get("workers", {}).items()}
        if self.threads:
            self.warned_empty = False
        for address, threads in self.threads.items():
            for index in range(threads):
                self.slot_of(address, index)
        for key in [k for k in self.slots if k[0] not in self.threads]:
            del self.slots[key]

    def slot_of(self, address: str, index: int) -> _Slot:
        slot = self.slots.get((address, index))
        if slot is None:
            # Small ids, reused, so the workers panel keeps its rows stable.
            taken = {s.id for s in self.slots.values()}
            slot = _Slot(next(n for n in itertools.count(1) if n not in taken), address, index)
            self.slots[(address, index)] = slot
        return slot

    # -- control ----------------------------------------------------------
    def abort(self, reason: str = "stopped") -> list[tuple[int, object]]:
        if not self.flights:
            return []
        flights, self.flights = self.flights, {}
        news: list[tuple[int, object]] = []
        for flight in flights.values():
            current = flight.current[0] if flight.current is not None else None
            worker = flight.slot.id if flight.slot is not None else 0
            news.append((worker, Lost(flight.batch_id, current if current in flight.pending else None, None)))
            if flight.slot is not None:
                flight.slot.batch_id = None
        self.client.cancel([flight.future for flight in flights.values()])
        try:
            # Cancelling a future does not stop a task that runs: each worker kills the Batchmill
            # worker of these batches itself, before this returns.
            self.client.run(abort_batches, self.topic, list(flights), on_error="return")
        except Exception as exc:  # noqa: BLE001 - the engine must go on; the batches' results are ignored
            self.emit(Log("warning", f"could not reach every Dask worker to stop its batch: {exc}"))
        return news

    def next_deadline(self) -> float | None:
        return None  # timeouts are kept inside each Dask worker; their news wakes the engine

    def status(self) -> list[WorkerNow]:
        states = []
        for slot in sorted(self.slots.values(), key=lambda s: s.id):
            flight = self.flights.get(slot.batch_id) if slot.batch_id is not None else None
            current = flight.current if flight is not None else None
            label = slot.address if self.threads.get(slot.address, 1) == 1 else f"{slot.address} #{slot.index + 1}"
            states.append(WorkerNow(slot.id, slot.pid, current[0] if current else None,
                                    current[1] if current else None, label))
        return states

    def shutdown(self) -> None:
        if self.client is not None:
            if self.flights:
                self.abort("shutting down")
            try:
                if self.subscribed:
                    self.client.unsubscribe_topic(self.topic)
                    self.client.unsubscribe_topic("all")
                if self.cluster is None:
                    # A cluster that outlives us keeps no idle Batchmill workers of ours.
                    self.client.run(stop_idle_workers, on_error="return")
            except Exception as exc:  # noqa: BLE001 - closing must go on
                self.emit(Log("warning", f"could not stop Batchmill's workers on the Dask cluster: {exc}"))
            self.client.close()
            self.client = None
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None
        self.flights.clear()
        self.slots.clear()
        self.threads.clear()
