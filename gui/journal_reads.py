"""The window's reads of the journal, off its thread, each on a read-only connection of its own.

    widget ─ bridge.read(fn, on_done) ─▶ ReadTask (ReadThreads) ── JournalReader (mode=ro, WAL)
                                              └─▶ ReadSignals.done (queued) ─▶ on_done(result), GUI thread

The window never reads through the engine's connection: its one lock serializes the reads
with the engine's writes, and a writer holding the journal (another Batchmill, a long
transaction) froze the window behind it. WAL lets a second connection read the last committed
state while someone writes; ``mode=ro`` makes sure it never writes. Details, the export and
the "script changed" check before a retry all read here (the history has its own loader,
batchmill.gui.history, the same way).

The reads run on daemon threads of Python's (ReadThreads), not a QThreadPool: quitting waits a
moment for reads under way and then leaves a stuck one (behind a journal another program holds,
up to the 60 s busy timeout) to end with the process. A QThreadPool is waited for without limit
when it is destroyed, so one stuck read held the window's exit for as long as it was stuck.
"""

from __future__ import annotations

import itertools
import queue
import sqlite3
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from batchmill.core.history import JournalReader

READ_THREADS = 2  # one slow read (a locked journal) does not hold up the next
QUIT_WAIT_S = 1.0  # at quit, reads under way get this long to end; a stuck one is left behind


class ReadThreads:
    """A few daemon threads running tasks in turn. ``close`` waits a bounded while, never for ever:
    a task still running then ends with the process (its answer is for nobody by then)."""

    def __init__(self, count: int, name: str) -> None:
        self.count, self.name = count, name
        self._tasks: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._lock = threading.Lock()
        self.closed = False

    def start(self, task: Callable[[], None]) -> None:
        with self._lock:
            if self.closed:
                return  # shutting down: nobody is left to hear its answer
            if self._idle <= 0 and len(self._threads) < self.count:
                thread = threading.Thread(target=self._work, name=f"{self.name}-{len(self._threads) + 1}", daemon=True)
                self._threads.append(thread)
                thread.start()
            else:
                self._idle -= 1  # taken by one of those waiting
            self._tasks.put(task)

    def _work(self) -> None:
        while True:
            task = self._tasks.get()
            if task is None:
                return
            try:
                task()
            finally:
                with self._lock:
                    self._idle += 1

    def close(self, timeout_s: float) -> bool:
        """Let the threads go once their tasks are done; whether they all ended within ``timeout_s``."""
        with self._lock:
            self.closed = True
            threads = list(self._threads)
        for _ in threads:
            self._tasks.put(None)
        deadline = time.monotonic() + timeout_s
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in threads)


class ReadSignals(QObject):
    done = Signal(int, object)  # request, what the read returned
    failed = Signal(int, str)  # request, why it could not read (for a person, with the traceback)


class ReadTask:
    def __init__(self, path: Path, request: int, read: Callable[[JournalReader], Any], signals: ReadSignals) -> None:
        self.path, self.request, self.read, self.signals = path, request, read, signals

    def run(self) -> None:
        try:
            with JournalReader(self.path) as reader:
                result = self.read(reader)
        except Exception as exc:  # noqa: BLE001 - reported in the window, never lost on a pool thread
            # The journal's own trouble (locked, damaged) is said as it is; anything else is a bug, with its traceback.
            detail = "" if isinstance(exc, sqlite3.Error) else f"\n{traceback.format_exc()}"
            answer_anyway(self.signals.failed, self.request, f"the journal {self.path} could not be read: {exc}{detail}")
            return
        answer_anyway(self.signals.done, self.request, result)


def answer_anyway(signal: Any, *args: object) -> None:
    """Emit from a read thread; a window gone meanwhile (its signals deleted at quit) hears nothing."""
    try:
        signal.emit(*args)
    except RuntimeError:  # "Signal source has been deleted": a read that outlived the window
        pass


class JournalReads(QObject):
    """Runs reads of one journal on a small pool; answers on the GUI thread, in the callback given."""

    def __init__(self, path: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.path = path
        self.signals = ReadSignals(self)
        self.signals.done.connect(self._done)
        self.signals.failed.connect(self._failed)
        self.pool = ReadThreads(READ_THREADS, "batchmill-read")
        self._requests = itertools.count(1)
        self._waiting: dict[int, tuple[Callable[[Any], None], Callable[[str], None]]] = {}
        self.closed = False

    def read(self, read: Callable[[JournalReader], Any], on_done: Callable[[Any], None],
             on_failed: Callable[[str], None]) -> int:
        """Run ``read(reader)`` off the GUI thread; ``on_done(result)`` or ``on_failed(why)`` is
        called on the GUI thread afterwards (never within this call). Returns the request's number."""
        request = next(self._requests)
        if self.closed:
            return request  # shutting down: nobody is left to show it
        self._waiting[request] = (on_done, on_failed)
        self.pool.start(ReadTask(self.path, request, read, self.signals).run)
        return request

    def _done(self, request: int, result: object) -> None:
        callbacks = self._waiting.pop(request, None)
        if callbacks is not None and not self.closed:
            callbacks[0](result)

    def _failed(self, request: int, message: str) -> None:
        callbacks = self._waiting.pop(request, None)
        if callbacks is not None and not self.closed:
            callbacks[1](message)

    def pending(self) -> int:
        return len(self._waiting)

    def close(self, timeout_s: float = QUIT_WAIT_S) -> bool:
        """No more answers; waits a moment for reads under way (a stuck one is left to end with the
        process). Whether they all ended."""
        self.closed = True
        self._waiting.clear()
        return self.pool.close(timeout_s)
