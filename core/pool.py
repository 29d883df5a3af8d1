"""Process keeping: spawn workers, know what each holds, kill and replace them.

Each worker has its own duplex Pipe and a two-slot shared array
``[file_id, started_at]`` that it writes before every file. The engine thread
waits on every pipe and every process sentinel at once, so a result, a crash
and a wake-up all end the same ``wait()``.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import signal
import time
from dataclasses import dataclass, field
from multiprocessing.context import BaseContext
from typing import Any

from batchmill.core import early
from batchmill.core.bootstrap import WORKER_NAME_PREFIX, install_spawn_hook
from batchmill.core.messages import RunBatch, Stop
from batchmill.core.procgroup import Guardian, kill_group
from batchmill.core.early import SLOT_FILE, SLOT_STARTED, spawn_worker
from batchmill.core.worker import LOST_PIPE_EXIT

JOIN_TIMEOUT_S = 5.0
STOP_GRACE_S = 2.0


@dataclass
class Batch:
    batch_id: int
    job_id: str
    file_ids: list[int]
    pending: set[int]  # sent but not yet reported


@dataclass(eq=False)
class WorkerHandle:
    id: int
    process: Any  # multiprocessing Process of the chosen context
    conn: multiprocessing.connection.Connection
    slot: Any
    batches: dict[int, Batch] = field(default_factory=dict)
    payload_keys: set[str] = field(default_factory=set)
    files_sent: int = 0
    files_done: int = 0
    retiring: bool = False
    stopped: bool = False
    announced: tuple[int, float] | None = None  # last (file_id, started) told to the front end

    pid: int | None = None
    sentinel: int = -1

    def current(self) -> tuple[int, float] | None:
        """(file_id, started_at) of the file this worker is on, or None between files."""
        file_id = int(self.slot[SLOT_FILE])
        if file_id < 0:
            return None
        started = float(self.slot[SLOT_STARTED])
        if int(self.slot[SLOT_FILE]) != file_id:
            return None
        return file_id, started

    def in_flight(self) -> int:
        return sum(len(b.pending) for b in self.batches.values())


def describe_exit(exitcode: int | None) -> str:
    if exitcode is None:
        return "the worker stopped responding"
    if exitcode == LOST_PIPE_EXIT:
        return "the worker lost its pipe to the engine (the processor closed file descriptors it did not open)"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"the worker process was killed by {name}"
    return f"the worker process exited with code {exitcode}"


class WorkerPool:
    """Starts, tracks and stops worker processes. Used only from the engine thread."""

    def __init__(self, context: BaseContext, scratch_root: str) -> None:
        self.context = context
        self.scratch_root = scratch_root
        install_spawn_hook()  # workers never re-run the parent's main module, whoever started us
        self.workers: dict[int, WorkerHandle] = {}
        self.guardian = Guardian(context)  # kills every worker group if this process dies
        self._next_id = 1

    def start(self) -> WorkerHandle:
        worker_id = self._free_id()
        started = early.adopt(worker_id, self.context.get_start_method(), self.scratch_root)
        process, parent_conn, slot = started or spawn_worker(self.context, worker_id, self.scratch_root)
        self.guardian.watch(process.pid)
        handle = WorkerHandle(worker_id, process, parent_conn, slot, pid=process.pid, sentinel=process.sentinel)
        self.workers[worker_id] = handle
        return handle

    def _free_id(self) -> int:
        # Reuse small ids so the workers panel keeps its rows stable.
        n = 1
        while n in self.workers:
            n += 1
        return n

    def live(self) -> list[WorkerHandle]:
        return [w for w in self.workers.values() if not w.stopped]

    def send(self, worker: WorkerHandle, batch: RunBatch, file_ids: list[int]) -> None:
        worker.conn.send(batch)
        worker.batches[batch.batch_id] = Batch(batch.batch_id, batch.job_id, file_ids, set(file_ids))
        worker.files_sent += len(file_ids)

    def ask_to_stop(self, worker: WorkerHandle) -> None:
        """Graceful: the worker finishes what it was sent, then exits."""
        if not worker.stopped and not worker.retiring:
            worker.retiring = True
            try:
                worker.conn.send(Stop())
            except OSError:
                pass

    def kill(self, worker: WorkerHandle) -> None:
        """Immediate: used for a timeout, a cancel, or a worker that has died already."""
        kill_group(worker.pid)  # with the programs its processor started
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join(JOIN_TIMEOUT_S)
        self.forget(worker)

    def forget(self, worker: WorkerHandle) -> None:
        """The worker is done for (it exited, died or was killed): nothing of it may stay behind —
        not the programs its processor started, nor the worker itself if only its pipe broke."""
        worker.stopped = True
        try:
            worker.conn.close()
        except OSError:
            pass
        kill_group(worker.pid)
        if worker.process.exitcode is None:
            worker.process.kill()
            worker.process.join(JOIN_TIMEOUT_S)
        if worker.process.exitcode is not None:
            worker.process.close()
        if worker.pid is not None:
            self.guardian.unwatch(worker.pid)
        self.workers.pop(worker.id, None)
        if not self.workers:
            self.guardian.close()  # it lives as long as a worker does; the next one starts it again

    def shutdown(self) -> None:
        """Stop every worker: politely first, then by force. Leaves no process behind."""
        for worker in list(self.workers.values()):
            self.ask_to_stop(worker)
        sentinels = [w.sentinel for w in self.workers.values() if w.process.exitcode is None]
        if sentinels:
            _wait_all(sentinels, STOP_GRACE_S)
        for worker in list(self.workers.values()):
            self.kill(worker)
        self.guardian.close()  # (closed already with the last worker; a pool that never had one)


def _wait_all(sentinels: list[int], timeout: float) -> None:
    end = time.monotonic() + timeout
    remaining = list(sentinels)
    while remaining:
        left = end - time.monotonic()
        if left <= 0:
            return
        ready = multiprocessing.connection.wait(remaining, left)
        remaining = [s for s in remaining if s not in ready]

