"""The window's reads of the journal, off its thread, each on a read-only connection of its own.

    widget ─ bridge.read(fn, on_done) ─▶ ReadTask (QThreadPool) ── JournalReader (mode=ro, WAL)
                                              └─▶ ReadSignals.done (queued) ─▶ on_done(result), GUI thread

The window never reads through the engine's connection: its one lock serializes the reads
with the engine's writes, and a writer holding the journal (another Batchmill, a long
transaction) froze the window behind it. WAL lets a second connection read the last committed
state while someone writes; ``mode=ro`` makes sure it never writes. Details, the export and
the "script changed" check before a retry all read here (the history has its own loader,
batchmill.gui.history, the same way).
"""

from __future__ import annotations

import itertools
import sqlite3
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from batchmill.core.history import JournalReader

READ_THREADS = 2  # one slow read (a locked journal) does not hold up the next


class ReadSignals(QObject):
    done = Signal(int, object)  # request, what the read returned
    failed = Signal(int, str)  # request, why it could not read (for a person, with the traceback)


class ReadTask(QRunnable):
    def __init__(self, path: Path, request: int, read: Callable[[JournalReader], Any], signals: ReadSignals) -> None:
        super().__init__()
        self.path, self.request, self.read, self.signals = path, request, read, signals

    def run(self) -> None:
        try:
            with JournalReader(self.path) as reader:
                result = self.read(reader)
        except Exception as exc:  # noqa: BLE001 - reported in the window, never lost on a pool thread
            # The journal's own trouble (locked, damaged) is said as it is; anything else is a bug, with its traceback.
            detail = "" if isinstance(exc, sqlite3.Error) else f"\n{traceback.format_exc()}"
            self.signals.failed.emit(self.request, f"the journal {self.path} could not be read: {exc}{detail}")
            return
        self.signals.done.emit(self.request, result)


class JournalReads(QObject):
    """Runs reads of one journal on a small pool; answers on the GUI thread, in the callback given."""

    def __init__(self, path: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.path = path
        self.signals = ReadSignals(self)
        self.signals.done.connect(self._done)
        self.signals.failed.connect(self._failed)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(READ_THREADS)
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
        self.pool.start(ReadTask(self.path, request, read, self.signals))
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

    def close(self, timeout_ms: int = 5000) -> bool:
        """No more answers; waits (a while) for reads under way."""
        self.closed = True
        self._waiting.clear()
        return self.pool.waitForDone(timeout_ms)
