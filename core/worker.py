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
import shutil
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from pathlib import Path
from stat import S_ISREG
from typing import Any

from batchmill.core.context import ProcessorContext
from batchmill.core.early import SLOT_FILE, SLOT_STARTED
from batchmill.core.file_kinds import kind_of_mode
from batchmill.core.messages import (
    FailureKind, Failure, PayloadBroken, Printed, Progress, Results, Returned, RunBatch, Started, Stop, Withdraw,
)
from batchmill.core.outputs import remove_quietly
from batchmill.core.procgroup import isolate_worker
from batchmill.core.results import journal_form, max_result_bytes
from batchmill.core.sidecar import (SidecarError, SidecarJob, commit as commit_sidecar, drop_stale_sidecar,
                                    name_too_long, stage as stage_sidecar)

# Results of a long batch are flushed this often so progress stays live.
FLUSH_INTERVAL_S = 0.1
# A file that follows one slower than this gets a "started" message of its own.
SLOW_FILE_S = 0.02
# What a file printed is read back after every file that takes this long, and at every flush
# (a tiny file's check would cost more than the file): capped to its last CAPTURE_SHOWN characters.
CAPTURE_EVERY_FILE_S = 0.001
CAPTURE_SHOWN = 4000
# A worker whose pipe to the engine was closed under it (a processor calling os.closerange)
# exits with this code, its death pinned on the file that did it (see batchmill.core.pool).
LOST_PIPE_EXIT = 86
OUTPUT_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EROFS, errno.EDQUOT}

TaskFn = Callable[[Path, "Path | None", ProcessorContext], Any]
_Ran = tuple[Any, "int | None", bool, "Failure | None"]  # value, input size, output made, failure


def worker_main(worker_id: int, conn: Connection, slot: Any, scratch_root: str) -> None:
    """Entry point of a worker process (the target given to ``Process``)."""
    os.environ["BATCHMILL_ROLE"] = "worker"  # bootstrap refuses to start a GUI or engine here
    isolate_worker()  # a process group of its own; dies with the engine
    capture = _Capture.install(scratch_root, worker_id)
    sender = _Sender(conn)
    inbox = _Inbox()
    threading.Thread(target=_read_forever, args=(conn, inbox, sender), daemon=True, name="reader").start()
    runner = _Runner(worker_id, sender, slot, Path(scratch_root), inbox.withdrawn, capture)
    try:
        while True:
            message = inbox.get()
            if isinstance(message, Stop):
                return
            if isinstance(message, RunBatch):
                runner.run_batch(message)
    finally:
        runner.clean_scratch()


def _read_forever(conn: Connection, inbox: _Inbox, sender: _Sender) -> None:
    """Drain the engine's pipe at once, so the engine never blocks on a send,
    and exit the moment the parent is gone (its pipe closes or its sentinel fires).
    A ``Withdraw`` is answered here, at once: the runner may be deep in a long file."""
    import multiprocessing

    parent = multiprocessing.parent_process()
    watch: list[Any] = [conn] + ([parent.sentinel] if parent is not None else [])
    parent_pid = os.getppid()
    while True:
        try:
            ready = wait(watch)
            if conn not in ready:
                os._exit(70)  # parent died: nobody will ever collect our results
            message = conn.recv()
        except (EOFError, OSError, ValueError):
            # The engine is alive but the pipe is gone: a processor closed it under us.
            os._exit(LOST_PIPE_EXIT if os.getppid() == parent_pid else 70)
        if isinstance(message, Withdraw):
            waiting = inbox.withdraw(message.batch_id)
            if waiting is not None:
                sender.send(Returned(waiting.batch_id, waiting.file_ids))
        else:
            inbox.put(message)


class _Sender:
    """The worker's end of the pipe, shared by the runner and the reader: one message at a time."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.lock = threading.Lock()

    def send(self, message: object) -> None:
        with self.lock:
            self.conn.send(message)


class _Inbox:
    """Batches waiting for the runner. A batch asked back while it waits here leaves at once;
    one asked back while it runs is marked in ``withdrawn`` and stops before its next file."""

    def __init__(self) -> None:
        self.items: deque[object] = deque()
        self.ready = threading.Condition()
        self.withdrawn: set[int] = set()

    def put(self, message: object) -> None:
        with self.ready:
            self.items.append(message)
            self.ready.notify()

    def get(self) -> object:
        with self.ready:
            while not self.items:
                self.ready.wait()
            return self.items.popleft()

    def withdraw(self, batch_id: int) -> RunBatch | None:
        """Take a waiting batch out (its processor stays, as an empty batch); None if it has started."""
        with self.ready:
            for i, item in enumerate(self.items):
                if isinstance(item, RunBatch) and item.batch_id == batch_id:
                    if item.payload is None:
                        del self.items[i]
                    else:  # later batches come without the processor: it must still be loaded
                        self.items[i] = item.part(0, 0)
                    return item
            self.withdrawn.add(batch_id)
            return None


class _Capture:
    """The worker's stdout and stderr (fds 1 and 2, which the programs a processor starts inherit)
    go to a private file instead of the terminal; what a file printed is read back after it and
    sent to the engine's log, its tail capped at CAPTURE_SHOWN characters."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    @staticmethod
    def install(scratch_root: str, worker_id: int) -> _Capture | None:
        import sys

        try:
            os.makedirs(scratch_root, exist_ok=True)
            path = os.path.join(scratch_root, f"worker-{worker_id}.printed")
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
            os.unlink(path)
            for stream in (sys.stdout, sys.stderr):
                if stream is not None:
                    stream.flush()
            os.dup2(fd, 1)
            os.dup2(fd, 2)
        except OSError:  # no scratch: the output goes where it went before
            return None
        return _Capture(fd)

    def take(self) -> str | None:
        """What was printed since the last call (its tail), or None."""
        import sys

        for stream in (sys.stdout, sys.stderr):
            try:
                if stream is not None:
                    stream.flush()
            except (OSError, ValueError):  # a processor closed it: nothing more comes from it
                pass
        try:
            size = os.fstat(self.fd).st_size
            if not size:
                return None
            data = os.pread(self.fd, CAPTURE_SHOWN * 4, max(0, size - CAPTURE_SHOWN * 4))
            os.ftruncate(self.fd, 0)
        except OSError:
            return None
        text = data.decode("utf-8", "replace")[-CAPTURE_SHOWN:].rstrip("\n")
        cut = size - len(text.encode("utf-8", "replace"))
        return f"… ({cut:,} bytes before this not shown)\n{text}" if cut > 1 else text


class _Runner:
    def __init__(self, worker_id: int, conn: Connection | _Sender, slot: Any, scratch_root: Path,
                 withdrawn: set[int] | None = None, capture: _Capture | None = None) -> None:
        self.capture = capture
        self.worker_id = worker_id
        self.withdrawn: set[int] = withdrawn if withdrawn is not None else set()
        self.conn = conn
        self.slot = slot
        self.scratch_root = scratch_root
        self.payloads: dict[str, TaskFn] = {}
        self.made_dirs: set[str] = set()
        self.batch_id = -1
        self.file_id = -1
        self.context = ProcessorContext(worker_id, scratch_root, self._send_progress)
        self.max_result = max_result_bytes()
        raw: Connection = conn.conn if isinstance(conn, _Sender) else conn
        self.pipe_fd = raw.fileno()
        self.pipe_ino = os.fstat(self.pipe_fd).st_ino
        self.last_file = -1
        self.sidecar: SidecarJob | None = None  # --provenance sidecar: written beside each output
        self.drop_sidecars = False  # see RunBatch.drop_sidecars

    def run_batch(self, batch: RunBatch) -> None:
        self.batch_id = batch.batch_id
        self.sidecar = batch.sidecar
        self.drop_sidecars = batch.drop_sidecars
        fn = self._load(batch)
        if fn is None:
            return
        run: Callable[[TaskFn, str, str | None, str | None], _Ran]
        run = self._run_raw if getattr(fn, "raw_paths", False) else self._run_paths
        if self.sidecar is not None and batch.dsts is not None:
            run = _sidecar_room(run)
        out = _Columns(batch.batch_id)
        last_flush = time.perf_counter()
        previous_slow = True
        srcs, dsts, tmps = batch.srcs, batch.dsts, batch.tmps
        withdrawn, given_back = self.withdrawn, 0
        for i, file_id in enumerate(batch.file_ids):
            if withdrawn and batch.batch_id in withdrawn:
                given_back = len(batch.file_ids) - i
                break
            self._enter(file_id)
            if previous_slow:
                self.conn.send(Started(batch.batch_id, file_id))
            started = time.perf_counter()
            value, size, made, failure = run(fn, srcs[i], dsts[i] if dsts else None, tmps[i] if tmps else None)
            now = time.perf_counter()
            out.add(file_id, now - started, value, size, made, failure)
            previous_slow = now - started >= SLOW_FILE_S
            if self.capture is not None and now - started >= CAPTURE_EVERY_FILE_S:
                self._send_printed(file_id)
            if now - last_flush >= FLUSH_INTERVAL_S:
                self._check_pipe()
                self._send_printed(file_id)
                self._leave()
                self.conn.send(out.take(False))
                last_flush = now
        self._check_pipe()
        if self.file_id >= 0:
            self._send_printed(self.file_id)
        self._leave()
        withdrawn.discard(batch.batch_id)
        if given_back:
            if out.file_ids:
                self.conn.send(out.take(False))
            self.conn.send(Returned(batch.batch_id, batch.file_ids[-given_back:]))
        else:
            self.conn.send(out.take(True))

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
        if self.file_id >= 0:
            self.last_file = self.file_id
        self.file_id = -1

    def _check_pipe(self, tmp: str | None = None) -> None:
        """Before an output lands or results are sent: is the pipe to the engine still ours? A
        processor that closed it (os.closerange) cannot report, so its file fails as the worker's
        death — pinned on the file that ran last — and the output it made is not put in place."""
        try:
            intact = os.fstat(self.pipe_fd).st_ino == self.pipe_ino
        except OSError:
            intact = False
        if intact:
            return
        if tmp is not None:
            remove_quietly(tmp)
        self._enter(self.file_id if self.file_id >= 0 else self.last_file)
        os._exit(LOST_PIPE_EXIT)

    def _run_raw(self, fn: TaskFn, src: str, dst: str | None, tmp: str | None) -> _Ran:
        """A built-in that takes str paths and measures its input itself (see
        ProcessorContext.input_size): on tiny files a stat and two Paths per file
        cost a third of the time the work does."""
        context = self.context
        context.src = context.dst = None
        context.input_size = None
        try:
            if tmp is not None:
                self._ensure_dir(os.path.dirname(tmp))
            return self._finish(fn(src, tmp, context), context.input_size, src, dst, tmp)
        except BaseException as exc:  # noqa: BLE001 - a failure of this file, not of the worker
            return self._failed(exc, src, dst, tmp, context.input_size)

    def _run_paths(self, fn: TaskFn, src: str, dst: str | None, tmp: str | None) -> _Ran:
        context, size = self.context, None
        try:
            if tmp is not None:
                self._ensure_dir(os.path.dirname(tmp))
            st = os.stat(src)  # here, in parallel, rather than in the serial scan
            if not S_ISREG(st.st_mode):  # swapped for a FIFO since the scan: opening it would hang
                raise OSError(errno.EINVAL, f"{kind_of_mode(st.st_mode)}, not a regular file", src)
            size = st.st_size
            context.src, context.dst = Path(src), (Path(tmp) if tmp is not None else None)
            return self._finish(fn(context.src, context.dst, context), size, src, dst, tmp)
        except BaseException as exc:  # noqa: BLE001 - a failure of this file, not of the worker
            return self._failed(exc, src, dst, tmp, size)

    def _finish(self, result: Any, size: int | None, src: str, dst: str | None, tmp: str | None) -> _Ran:
        """The processor returned: put its value in its journal form, then move its output into place."""
        value, failure = journal_form(result, self.max_result)
        if failure is not None:  # a failed file leaves no output behind, even one it wrote
            return None, size, False, _with_clean_up(failure, tmp)
        made = tmp is not None and os.path.lexists(tmp)
        if made:
            assert dst is not None and tmp is not None
            self._check_pipe(tmp)
            if self.sidecar is not None:
                return self._land_with_sidecar(self.sidecar, value, size, src, dst, tmp)
            os.replace(tmp, dst)
            if self.drop_sidecars:
                drop_stale_sidecar(dst)
        return value, size, made, None

    @staticmethod
    def _land_with_sidecar(job: SidecarJob, value: Any, size: int | None, src: str, dst: str, tmp: str) -> _Ran:
        """The output and its provenance sidecar (batchmill.core.sidecar): the sidecar is written
        under its temporary name, the output renamed into place, then the sidecar. An output is
        never kept without its sidecar: one that cannot be written fails the file."""
        try:
            staged = stage_sidecar(job, src, dst, tmp)
        except SidecarError as exc:
            return None, size, False, _with_clean_up(Failure(FailureKind.OUTPUT_ERROR, str(exc),
                                                             traceback.format_exc()), tmp)
        try:
            os.replace(tmp, dst)
        except BaseException:
            remove_quietly(staged)
            raise
        try:
            commit_sidecar(staged, dst)
        except SidecarError as exc:
            problem = remove_quietly(dst)
            kept = f"; {problem}" if problem else " (the output is not kept without it)"
            return None, size, False, Failure(FailureKind.OUTPUT_ERROR, f"{exc}{kept}", traceback.format_exc())
        return value, size, True, None

    @staticmethod
    def _failed(exc: BaseException, src: str, dst: str | None, tmp: str | None, size: int | None) -> _Ran:
        return None, size, False, _with_clean_up(describe_exception(exc, src, dst, tmp), tmp)

    def _ensure_dir(self, folder: str) -> None:
        if folder not in self.made_dirs:
            os.makedirs(folder, exist_ok=True)
            self.made_dirs.add(folder)

    def _send_printed(self, file_id: int) -> None:
        text = self.capture.take() if self.capture is not None else None
        if text:
            self.conn.send(Printed(self.batch_id, file_id, text))

    def _send_progress(self, fraction: float | None, message: str) -> None:
        if self.file_id >= 0:
            self.conn.send(Progress(self.batch_id, self.file_id, fraction, message))

    def clean_scratch(self) -> None:
        shutil.rmtree(self.scratch_root / f"worker-{self.worker_id}", ignore_errors=True)


def _sidecar_room(run: Callable[[TaskFn, str, str | None, str | None], _Ran]
                  ) -> Callable[[TaskFn, str, str | None, str | None], _Ran]:
    """``run``, but a file whose sidecar's name could never be written fails before its processor
    runs (its output would not be kept without one)."""
    def checked(fn: TaskFn, src: str, dst: str | None, tmp: str | None) -> _Ran:
        problem = name_too_long(dst) if dst is not None else None
        if problem is not None:
            return None, None, False, Failure(FailureKind.OUTPUT_ERROR, problem)
        return run(fn, src, dst, tmp)
    return checked


class _Columns:
    """The Results of a batch as they accumulate, one list per column."""

    __slots__ = ("batch_id", "file_ids", "durations", "values", "sizes", "made", "failures")

    def __init__(self, batch_id: int) -> None:
        self.batch_id = batch_id
        self._start_afresh()

    def _start_afresh(self) -> None:
        self.file_ids: list[int] = []
        self.durations: list[float] = []
        self.values: list[Any] = []
        self.sizes: list[int | None] = []
        self.made: list[bool] = []
        self.failures: list[tuple[int, Failure]] = []

    def add(self, file_id: int, duration: float, value: Any, size: int | None, made: bool,
            failure: Failure | None) -> None:
        self.file_ids.append(file_id)
        self.durations.append(duration)
        self.values.append(value)
        self.sizes.append(size)
        self.made.append(made)
        if failure is not None:
            self.failures.append((file_id, failure))

    def take(self, batch_done: bool) -> Results:
        """Everything gathered so far, as one message; starts the columns afresh."""
        results = Results(self.batch_id, tuple(self.file_ids), tuple(self.durations), tuple(self.values),
                          tuple(self.sizes), tuple(self.made), tuple(self.failures), batch_done)
        self._start_afresh()
        return results


def describe_exception(exc: BaseException, src: str, dst: str | None, tmp: str | None) -> Failure:
    """Turn an exception from one file into a Failure whose message a person can act on."""
    tb = "".join(traceback.format_exception(exc))
    if isinstance(exc, OSError):
        filename = getattr(exc, "filename", None)
        reason = exc.strerror or str(exc)
        if filename is not None and os.fspath(filename) == src:
            if exc.errno == errno.ENOENT:
                return Failure(FailureKind.INPUT_ERROR, f"input file vanished after the scan ({reason})", tb)
            return Failure(FailureKind.INPUT_ERROR, f"cannot read input file: {reason}", tb)
        if tmp is not None and (
            (filename is not None and os.fspath(filename) in (tmp, dst)) or exc.errno in OUTPUT_ERRNOS
        ):
            return Failure(FailureKind.OUTPUT_ERROR, f"cannot write output {dst}: {reason}", tb)
        if dst is not None and isinstance(filename, str) and dst.startswith(os.path.join(filename, "")):
            return Failure(FailureKind.OUTPUT_ERROR,
                           f"cannot write output {dst}: cannot make its folder {filename}: {reason}", tb)
    if isinstance(exc, SystemExit):
        return Failure(FailureKind.PROCESSOR_ERROR, f"processor called sys.exit({exc.code!r})", tb)
    return Failure(FailureKind.PROCESSOR_ERROR, f"processor raised {type(exc).__name__}: {exc}", tb)


def _with_clean_up(failure: Failure, tmp: str | None) -> Failure:
    """A failed file leaves no output behind; a temporary that cannot be removed is told with it."""
    problem = remove_quietly(tmp) if tmp is not None else None
    if problem is None:
        return failure
    return Failure(failure.kind, f"{failure.message}; {problem}", failure.traceback)
