"""Past jobs, read from the journal off the window's thread, on a read-only connection.

    HistoryTask (ReadThreads) ── JournalReader (mode=ro) ──▶ HistorySignals.loaded (queued)
                                                                 └─▶ Bridge adds the rows

A restart no longer empties the queue: completed jobs (with or without failures), interrupted,
halted and cancelled ones are listed again, with Details, Resume and Retry working on them.
"""

from __future__ import annotations

import traceback
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from batchmill.core.history import JournalReader
from batchmill.gui.journal_reads import QUIT_WAIT_S, ReadThreads, answer_anyway


class HistorySignals(QObject):
    loaded = Signal(list)  # [JobRecord], oldest first
    failed = Signal(str)  # why the journal could not be read


class HistoryTask:
    def __init__(self, path: Path, signals: HistorySignals) -> None:
        self.path, self.signals = path, signals

    def run(self) -> None:
        try:
            with JournalReader(self.path) as reader:
                jobs = reader.past_jobs()
        except Exception as exc:  # noqa: BLE001 - reported in the window, never lost on a pool thread
            answer_anyway(self.signals.failed, f"the job history could not be read from {self.path}: {exc}\n"
                                               f"{traceback.format_exc()}")
            return
        answer_anyway(self.signals.loaded, jobs)


class HistoryLoader:
    """Starts a read of the history; the bridge owns it and waits for it (a moment) at shutdown."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.signals = HistorySignals()
        self.pool = ReadThreads(1, "batchmill-history")

    def load(self) -> None:
        self.pool.start(HistoryTask(self.path, self.signals).run)

    def wait(self, timeout_s: float = QUIT_WAIT_S) -> bool:
        """At shutdown: whether the read ended within ``timeout_s`` (a stuck one ends with the process)."""
        return self.pool.close(timeout_s)
