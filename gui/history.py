"""Past jobs, read from the journal off the window's thread, on a read-only connection.

    HistoryTask (QThreadPool) ── JournalReader (mode=ro) ──▶ HistorySignals.loaded (queued)
                                                                 └─▶ Bridge adds the rows

A restart no longer empties the queue: completed jobs (with or without failures), interrupted,
halted and cancelled ones are listed again, with Details, Resume and Retry working on them.
"""

from __future__ import annotations

import traceback
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from batchmill.core.history import JournalReader


class HistorySignals(QObject):
    loaded = Signal(list)  # [JobRecord], oldest first
    failed = Signal(str)  # why the journal could not be read


class HistoryTask(QRunnable):
    def __init__(self, path: Path, signals: HistorySignals) -> None:
        super().__init__()
        self.path, self.signals = path, signals

    def run(self) -> None:
        try:
            with JournalReader(self.path) as reader:
                jobs = reader.past_jobs()
        except Exception as exc:  # noqa: BLE001 - reported in the window, never lost on a pool thread
            self.signals.failed.emit(f"the job history could not be read from {self.path}: {exc}\n"
                                     f"{traceback.format_exc()}")
            return
        self.signals.loaded.emit(jobs)


class HistoryLoader:
    """Starts a read of the history; the bridge owns it and waits for it at shutdown."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.signals = HistorySignals()
        self.pool = QThreadPool()
        self.pool.setMaxThreadCount(1)

    def load(self) -> None:
        self.pool.start(HistoryTask(self.path, self.signals))

    def wait(self, timeout_ms: int = 5000) -> bool:
        return self.pool.waitForDone(timeout_ms)
