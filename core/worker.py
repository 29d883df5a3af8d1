"""The worker process: receive batches, run the processor on each file, report back.

A worker never raises across the process boundary: every problem becomes a
``Failure`` with its own kind (processor raised, input unreadable, output
unwritable, result unpicklable). Which file it is on is written to a
shared-memory slot before the file starts, so when the process dies the
engine can pin the death on that file without a message per file.

Kept light on imports: spawn starts every worker from a fresh interpreter.
"""

from __future__ import annotations

import errno
import os
import pickle
import queue
import shutil
import signal
import threading
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from core.context import ProcessorContext
from core.messages import FailureKind, Failure, Outcome, PayloadBroken, Progress, Results, RunBatch, Started, Stop, Task

# Results of a long batch are flushed this often so progress stays live.
FLUSH_INTERVAL_S = 0.1
# A file that follows one slower than this gets a "started" message of its own.
SLOW_FILE_S = 0.02
SLOT_FILE, SLOT_STARTED = 0, 1
OUTPUT_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EROFS, errno.EDQUOT}

TaskFn = Callable[[Path, "Path | None", ProcessorContext], Any]


def worker_main(worker_id: int, conn: Connection, slot: Any, scratch_root: str) -> None:
    """Entry point of a worker process (the target given to ``Process``)."""
    os.environ["BATCHMILL_ROLE"] = "worker"  # bootstrap refuses to start a GUI or engine here
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the engine's to handle
    inbox: queue.Queue[object] = queue.Queue()
    threading.Thread(target=_read_forever, args=(conn, inbox), daemon=True, name="reader").start()
    runner = _Runner(worker_id, conn, slot, Path(scratch_root))
    try:
        while True:
            message = inbox.get()
            if isinstance(message, Stop):
                return
            if isinstance(message, RunBatch):
                runner.run_batch(message)
    finally:
        runner.clean_scratch()


def _read_forever(conn: Connection, inbox: queue.Queue[object]) -> None:
    """Drain the engine's pipe at once, so the engine never blocks on a send,
    and exit the moment the parent is gone (its pipe closes or its sentinel fires)."""
    import multiprocessing

    parent = multiprocessing.parent_process()
    watch: list[Any] = [conn] + ([parent.sentinel] if parent is not None else [])
    while True:
        ready = wait(watch)
        if conn not in ready:
            os._exit(70)  # parent died: nobody will ever collect our results
        try:
            inbox.put(conn.recv())
        except (EOFError, OSError):
            os._exit(70)


class _Runner:
    def __init__(self, worker_id: int, conn: Connection, slot: Any, scratch_root: Path) -> None:
        self.worker_id = worker_id
        self.conn = conn
        self.slot = slot
        self.scratch_root = scratch_root
        self.payloads: dict[str, TaskFn] = {}
        self.made_dirs: set[str] = set()
        self.batch_id = -1
        self.file_id = -1
        self.context = ProcessorContext(worker_id, scratch_root, self._send_progress)

    def run_batch(self, batch: RunBatch) -> None:
        self.batch_id = batch.batch_id
        fn = self._load(batch)
        if fn is None:
            return
        outcomes: list[Outcome] = []
        last_flush = time.monotonic()
        previous_slow = True
        for task in batch.tasks:
            self._enter(task.file_id)
            if previous_slow:
                self.conn.send(Started(batch.batch_id, task.file_id))
            outcome = self._run_one(fn, task)
            outcomes.append(outcome)
            previous_slow = outcome.duration_s >= SLOW_FILE_S
            now = time.monotonic()
            if now - last_flush >= FLUSH_INTERVAL_S:
                self._leave()
                self.conn.send(Results(batch.batch_id, tuple(outcomes), False))
                outcomes.clear()
                last_flush = now
        self._leave()
        self.conn.send(Results(batch.batch_id, tuple(outcomes), True))

    def _load(self, batch: RunBatch) -> TaskFn | None:
        fn = self.payloads.get(batch.payload_key)
        if fn is not None:
            return fn
        try:
            if batch.payload is None:
                raise RuntimeError("the engine sent no processor to this worker")
            fn = pickle.loads(batch.payload)  # imports dill itself when the payload was made by dill
        except BaseException as exc:  # noqa: BLE001 - reported, never raised across the boundary
            failure = Failure(
                FailureKind.PAYLOAD_ERROR,
                f"the processor could not be loaded in a worker: {type(exc).__name__}: {exc}",
                traceback.format_exc(),
            )
            self.conn.send(PayloadBroken(batch.batch_id, failure))
            return None
        self.payloads[batch.payload_key] = fn
        return fn

    def _enter(self, file_id: int) -> None:
        # Order matters: the engine reads the file id, then the time, then the id again.
        self.slot[SLOT_FILE] = -1
        self.slot[SLOT_STARTED] = time.time()
        self.slot[SLOT_FILE] = file_id
        self.file_id = file_id

    def _leave(self) -> None:
        self.slot[SLOT_FILE] = -1
        self.file_id = -1

    def _run_one(self, fn: TaskFn, task: Task) -> Outcome:
        started = time.perf_counter()
        context, tmp = self.context, task.tmp
        size = None
        try:
            if tmp is not None:
                self._ensure_dir(os.path.dirname(tmp))
            if getattr(fn, "raw_paths", False):
                # A built-in that takes str paths and measures its input itself (see
                # ProcessorContext.input_size): on tiny files a stat and two Paths per file
                # cost a third of the time the work does.
                context.src = context.dst = None
                context.input_size = None
                result = fn(task.src, tmp, context)
                size = context.input_size
            else:
                size = os.stat(task.src).st_size  # here, in parallel, rather than in the serial scan
                context.src, context.dst = Path(task.src), (Path(tmp) if tmp is not None else None)
                result = fn(context.src, context.dst, context)
            failure = _check_picklable(result)
            if failure is not None:  # a failed file leaves no output behind, even one it wrote
                if tmp is not None:
                    _remove_quietly(tmp)
                return Outcome(task.file_id, time.perf_counter() - started, None, False, failure, size)
            made = tmp is not None and os.path.lexists(tmp)
            if made:
                assert task.dst is not None and tmp is not None
                os.replace(tmp, task.dst)
            return Outcome(task.file_id, time.perf_counter() - started, result, made, None, size)
        except BaseException as exc:  # noqa: BLE001 - a failure of this file, not of the worker
            if tmp is not None:
                _remove_quietly(tmp)
            failure = describe_exception(exc, task)
            return Outcome(task.file_id, time.perf_counter() - started, None, False, failure, size)

    def _ensure_dir(self, folder: str) -> None:
        if folder not in self.made_dirs:
            os.makedirs(folder, exist_ok=True)
            self.made_dirs.add(folder)

    def _send_progress(self, fraction: float | None, message: str) -> None:
        if self.file_id >= 0:
            self.conn.send(Progress(self.batch_id, self.file_id, fraction, message))

    def clean_scratch(self) -> None:
        shutil.rmtree(self.scratch_root / f"worker-{self.worker_id}", ignore_errors=True)


def describe_exception(exc: BaseException, task: Task) -> Failure:
    """Turn an exception from one file into a Failure whose message a person can act on."""
    tb = "".join(traceback.format_exception(exc))
    if isinstance(exc, OSError):
        filename = getattr(exc, "filename", None)
        reason = exc.strerror or str(exc)
        if filename is not None and os.fspath(filename) == task.src:
            if exc.errno == errno.ENOENT:
                return Failure(FailureKind.INPUT_ERROR, f"input file vanished after the scan ({reason})", tb)
            return Failure(FailureKind.INPUT_ERROR, f"cannot read input file: {reason}", tb)
        if task.tmp is not None and (
            (filename is not None and os.fspath(filename) in (task.tmp, task.dst)) or exc.errno in OUTPUT_ERRNOS
        ):
            return Failure(FailureKind.OUTPUT_ERROR, f"cannot write output {task.dst}: {reason}", tb)
        if task.dst is not None and isinstance(filename, str) and task.dst.startswith(os.path.join(filename, "")):
            return Failure(FailureKind.OUTPUT_ERROR,
                           f"cannot write output {task.dst}: cannot make its folder {filename}: {reason}", tb)
    if isinstance(exc, SystemExit):
        return Failure(FailureKind.PROCESSOR_ERROR, f"processor called sys.exit({exc.code!r})", tb)
    return Failure(FailureKind.PROCESSOR_ERROR, f"processor raised {type(exc).__name__}: {exc}", tb)


def _check_picklable(result: object) -> Failure | None:
    if result is None or type(result) in (str, int, float, bool):
        return None
    try:
        pickle.dumps(result)
    except Exception as exc:  # noqa: BLE001 - pickle raises many types
        return Failure(
            FailureKind.UNPICKLABLE_RESULT,
            f"the processor's return value could not be sent back (not picklable): "
            f"{type(result).__name__}: {type(exc).__name__}: {exc}",
            "".join(traceback.format_exception(exc)),
        )
    return None


def _remove_quietly(path: str | Path) -> None:
    try:
        os.unlink(path)
    except (FileNotFoundError, NotADirectoryError):  # never made, or its folder could not be
        pass
