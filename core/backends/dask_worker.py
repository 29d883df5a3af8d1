"""What runs inside a Dask worker for the Dask backend (``batchmill.core.backends.dask``).

Each batch becomes one Dask task, ``run_batch``. It hands the batch to a
Batchmill worker process of its own — the local pool's ``worker_main``, kept by a
one-worker ``LocalBackend`` per Dask worker thread — and relays that worker's
news to the engine as Dask events (``Worker.log_event``): ``Started``,
``Progress``, partial ``Results`` and, for the workers panel, ``OnFile``. It
returns a ``BatchReport`` with every outcome, and, when the batch ended early,
why: the local backend's own ``Lost`` (a timeout or a crash, pinned to its
file), ``PayloadBroken``, or an abort by the engine.

So the promises of the local pool hold on a cluster, with the same code: Dask
has no per-task timeout, and a task that crashes its process takes the Dask
worker, and every task on it, down.

Everything here is pickled by reference: Batchmill must be installed on every
Dask worker (the backend's ``check_job`` says so when it is not).
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import multiprocessing.connection
import os
import pickle
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from batchmill.core.backends.base import BackendSettings, Lost
from batchmill.core.messages import PayloadBroken, Printed, Progress, Results, RunBatch, Started

POLL_S = 0.1  # how soon a running batch notices an abort
ABORT_WAIT_S = 5.0  # for a killed Batchmill worker to be gone
POSITION_EVERY_S = 0.2  # how often a batch says which file it is on (for the workers panel)
PROBE_TRIES = 20  # of probing a new output folder that other workers' probes make and remove too


# -- messages from Dask workers ----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class OnFile:
    """Which file a batch is on now (fast files send no ``Started`` of their own)."""

    batch_id: int
    file_id: int
    started_at: float


@dataclass(frozen=True, slots=True)
class WorkerNews:
    """One event from a Dask worker: where it comes from, and a message about one batch."""

    address: str
    slot: int  # which of the Dask worker's threads (each holds its own Batchmill worker)
    pid: int | None  # of that Batchmill worker process
    message: Started | Progress | Printed | Results | OnFile


@dataclass(frozen=True, slots=True)
class BatchReport:
    """What ``run_batch`` returns: every outcome of the batch, and why it stopped early if it did."""

    batch_id: int
    address: str
    slot: int
    results: tuple[Results, ...]  # every part the Batchmill worker sent back, in order
    lost: Lost | None = None  # the Batchmill worker died or timed out: the files after it did not run
    broken: PayloadBroken | None = None
    aborted: bool = False


# -- the Batchmill worker of each Dask worker thread -----------------------------------------------
@dataclass(eq=False)
class _Keeper:
    """The Batchmill worker of one Dask worker thread: a LocalBackend with one worker."""

    slot: int
    backend: Any  # batchmill.core.backends.local.LocalBackend
    lock: threading.Lock = field(default_factory=threading.Lock)  # held while a batch runs
    running: tuple[str, int] | None = None  # (topic, batch id) it runs now
    closed: bool = False  # stopped by stop_idle_workers: the thread makes a new one


_keepers: dict[int, _Keeper] = {}  # thread ident -> keeper
_keepers_lock = threading.Lock()
_aborted: set[tuple[str, int]] = set()
_batch_ended = threading.Condition()


def run_batch(batch: RunBatch, settings: BackendSettings, topic: str) -> BatchReport:
    """The task every batch becomes: run it in this thread's Batchmill worker process."""
    from distributed import get_worker

    worker = get_worker()
    while True:
        keeper = _keeper_for_this_thread(os.path.join(worker.local_directory, "batchmill"))
        with keeper.lock, _children_allowed:
            if keeper.closed:
                continue  # stopped just before this batch could take it
            keeper.running = (topic, batch.batch_id)
            try:
                return _BatchRunner(keeper, batch, settings, topic, worker).run()
            finally:
                with _batch_ended:
                    keeper.running = None
                    _aborted.discard((topic, batch.batch_id))
                    _batch_ended.notify_all()


def _keeper_for_this_thread(scratch_root: str) -> _Keeper:
    ident = threading.get_ident()
    with _keepers_lock:
        keeper = _keepers.get(ident)
        if keeper is None:
            from batchmill.core.backends.local import LocalBackend

            # Slots are the thread's row in the workers panel: the smallest free one, so a Dask
            # worker with N threads shows N rows however often its keepers are stopped.
            taken = {k.slot for k in _keepers.values()}
            slot = next(n for n in range(len(_keepers) + 1) if n not in taken)
            keeper = _Keeper(slot, LocalBackend(multiprocessing.get_context("spawn"), scratch_root))
            _keepers[ident] = keeper
        return keeper


class _ChildrenAllowed:
    """Lets this process start Batchmill worker processes although Dask made it daemonic.

    Dask starts its worker processes with ``daemon=True`` (the setting
    ``distributed.worker.daemon``, read by the nanny each time it starts or
    restarts a worker), and ``multiprocessing`` refuses to start children from a
    daemonic process, because a daemonic process is killed at its parent's exit
    and would leave its own children orphaned. Ours cannot be orphaned: a
    Batchmill worker watches its parent's sentinel and exits the moment the
    parent is gone (``batchmill.core.worker._read_forever``), and being daemonic itself it
    is also stopped at this process's normal exit. So the flag is cleared while
    a thread may start one, and restored after — counted, because several
    threads of one Dask worker may be in here at once.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.inside = 0
        self.was_daemon = False

    def __enter__(self) -> None:
        config = multiprocessing.current_process()._config  # type: ignore[attr-defined]
        with self.lock:
            if self.inside == 0:
                self.was_daemon = bool(config.get("daemon", False))
                config["daemon"] = False
            self.inside += 1

    def __exit__(self, *exc: object) -> None:
        config = multiprocessing.current_process()._config  # type: ignore[attr-defined]
        with self.lock:
            self.inside -= 1
            if self.inside == 0 and self.was_daemon:
                config["daemon"] = True


_children_allowed = _ChildrenAllowed()


class _BatchRunner:
    """Feeds one batch to the thread's Batchmill worker and follows it to the end."""

    def __init__(self, keeper: _Keeper, batch: RunBatch, settings: BackendSettings, topic: str, worker: Any) -> None:
        self.keeper = keeper
        self.local = keeper.backend
        self.batch = batch
        self.settings = dataclasses.replace(settings, workers=1)
        self.topic = topic
        self.worker = worker
        self.results: list[Results] = []
        self.position: tuple[int, float] | None = None
        self.position_sent = 0.0

    def run(self) -> BatchReport:
        self.local.configure(self.settings)
        start, total = 0, len(self.batch)
        while start < total:
            if self.is_aborted():
                return self.report(aborted=True)
            # Sent in parts no larger than the worker may still take (--max-files-per-worker):
            # it is recycled between parts, exactly as in the local pool.
            count = self.local.max_batch() or total - start
            part = self.batch.part(start, start + count)
            start += count
            self.local.send(part)
            report = self.follow(part)
            if report is not None:
                return report
        return self.report()

    def follow(self, part: RunBatch) -> BatchReport | None:
        """Relay the part's news until it is done (None) or ends early (a report)."""
        while True:
            if self.is_aborted():
                return self.stop(part, self.current_file())
            deadline = self.local.next_deadline()
            ready = multiprocessing.connection.wait(self.local.waitables(),
                                                    POLL_S if deadline is None else min(POLL_S, deadline))
            done = False
            for _, message in self.local.collect(ready):
                if isinstance(message, (Started, Progress, Printed)):
                    self.forward(message)
                elif isinstance(message, Results):
                    self.results.append(message)
                    done = message.batch_done
                    if not done and message.file_ids:
                        self.forward(dataclasses.replace(message, batch_done=False))
                elif isinstance(message, Lost):
                    if self.is_aborted():  # killed by abort_batches, not by its file
                        return self.stop(part, message.current)
                    return self.report(lost=message)
                elif isinstance(message, PayloadBroken):
                    return self.report(broken=message)
                # WorkerGone: the local backend has started a fresh worker already.
            if done:
                return None
            self.forward_position()

    def stop(self, part: RunBatch, current: int | None) -> BatchReport:
        """Aborted by the engine: kill the worker, remove the half-written output of its file."""
        self.local.abort("stopped by the engine")
        for task in part.tasks():
            if task.file_id == current and task.tmp is not None:
                _remove_quietly(task.tmp)
        return self.report(aborted=True)

    def is_aborted(self) -> bool:
        return (self.topic, self.batch.batch_id) in _aborted

    def current(self) -> tuple[int, float] | None:
        """(file id, started at) of the file the Batchmill worker is on, from its shared slot."""
        for now in self.local.status():
            if now.file_id is not None and now.started_at is not None:
                return now.file_id, now.started_at
        return None

    def current_file(self) -> int | None:
        current = self.current()
        return current[0] if current is not None else None

    def forward_position(self) -> None:
        current = self.current()
        now = time.monotonic()
        if current is None or current == self.position or now - self.position_sent < POSITION_EVERY_S:
            return
        self.position, self.position_sent = current, now
        self.forward(OnFile(self.batch.batch_id, current[0], current[1]))

    def forward(self, message: Started | Progress | Results | OnFile) -> None:
        pid = next((w.pid for w in self.local.status()), None)
        news = WorkerNews(self.worker.address, self.keeper.slot, pid, message)
        # log_event wants msgpack-able values: the message travels as pickled bytes.
        self.worker.log_event(self.topic, pickle.dumps(news))

    def report(self, lost: Lost | None = None, broken: PayloadBroken | None = None,
               aborted: bool = False) -> BatchReport:
        return BatchReport(self.batch.batch_id, self.worker.address, self.keeper.slot, tuple(self.results),
                           lost, broken, aborted)


def abort_batches(topic: str, batch_ids: list[int]) -> None:
    """Run by ``client.run`` in each Dask worker: stop these batches now (killing their Batchmill
    worker, as the local backend does), and refuse them should they start later."""
    wanted = {(topic, batch_id) for batch_id in batch_ids}
    _aborted.update(wanted)
    with _keepers_lock:
        keepers = list(_keepers.values())
    for keeper in keepers:
        if keeper.running in wanted:
            for handle in list(keeper.backend.pool.workers.values()):
                handle.process.kill()
    # Gone before this returns, as with the local pool's kill: the running thread sees the death
    # (or the abort), reaps its worker, and says so.
    with _batch_ended:
        _batch_ended.wait_for(lambda: not any(k.running in wanted for k in keepers), ABORT_WAIT_S)


def stop_idle_workers() -> int:
    """Run by ``client.run`` when an engine closes: stop the Batchmill workers no batch is using,
    so a long-lived cluster keeps no idle processes of ours. Returns how many threads were idle."""
    with _keepers_lock:
        keepers = list(_keepers.items())
    stopped = 0
    for ident, keeper in keepers:
        if keeper.lock.acquire(blocking=False):
            try:
                keeper.closed = True
                with _keepers_lock:
                    _keepers.pop(ident, None)
                keeper.backend.shutdown()
                stopped += 1
            finally:
                keeper.lock.release()
    return stopped


def probe_paths(inputs: list[str], output: str) -> str | None:
    """Run by ``client.run`` on every Dask worker before a job: None, or what this worker cannot reach."""
    for path in inputs:
        if not os.path.exists(path):
            return f"cannot see the input {path}"
    made: list[str] = []
    folder = output
    while not os.path.isdir(folder):
        made.append(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    probe = os.path.join(output, f".batchmill-probe-{uuid.uuid4().hex[:8]}")
    try:
        for attempt in range(PROBE_TRIES):
            try:
                os.makedirs(output, exist_ok=True)
                with open(probe, "wb"):
                    pass
                os.unlink(probe)
                break
            except (FileNotFoundError, FileExistsError):
                # Another worker of this machine probed at the same moment and removed the folder
                # its probe had made (also while makedirs ran): make it again. (A file where the
                # folder should be fails every time, and is reported.)
                if attempt == PROBE_TRIES - 1:
                    raise
    except OSError as exc:
        return f"cannot write in the output folder {output}: {exc.strerror or exc}"
    finally:
        for created in made:  # leave no folder behind: the job makes its own
            try:
                os.rmdir(created)
            except FileNotFoundError:
                continue
            except OSError:
                break
    return None


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except (FileNotFoundError, NotADirectoryError):
        pass
