"""Counting the files of an input in the background, so the window never waits for a scan.

Each count runs as a QRunnable on the panel's own QThreadPool and reports
through a QObject that lives in the GUI thread (queued signals). A count is
tagged with a generation: when the patterns change, old counts are cancelled
and their late answers ignored.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from batchmill.core.scan import Filter, iter_folder

REPORT_EVERY_S = 0.25
YIELD_EVERY = 512


class CountSignals(QObject):
    counting = Signal(str, int, int)  # path, files so far, generation
    counted = Signal(str, int, int)  # path, files, generation
    failed = Signal(str, str, int)  # path, reason, generation
    first = Signal(str, str, int)  # path, name of its first file (for the output name preview), generation


class CountTask(QRunnable):
    def __init__(self, path: str, file_filter: Filter, recursive: bool, skip: set[str], generation: int,
                 signals: CountSignals, cancelled: threading.Event) -> None:
        super().__init__()
        self.path, self.filter, self.recursive, self.skip = path, file_filter, recursive, skip
        self.generation, self.signals, self.cancelled = generation, signals, cancelled

    def run(self) -> None:
        try:
            count = self.count()
        except OSError as exc:
            self.signals.failed.emit(self.path, exc.strerror or str(exc), self.generation)
            return
        if count is not None:
            self.signals.counted.emit(self.path, count, self.generation)

    def count(self) -> int | None:
        path = Path(self.path)
        if not path.exists():
            raise FileNotFoundError(2, "does not exist", self.path)
        if not path.is_dir():
            self.signals.first.emit(self.path, path.name, self.generation)
            return 1
        count = 0
        last = time.monotonic()
        for src, _rel, _size in iter_folder(path, self.filter, self.recursive, self.skip, _ignore):
            count += 1
            if count == 1:
                self.signals.first.emit(self.path, os.path.basename(src), self.generation)
            if count % YIELD_EVERY == 0:
                # Hand the GIL over now and then: the window's thread must not queue behind a count
                # (sleep(0) only yields; a real sleep made the engine's job slower, not the window faster).
                time.sleep(0)
                if self.cancelled.is_set():
                    return None
                now = time.monotonic()
                if now - last >= REPORT_EVERY_S:
                    last = now
                    self.signals.counting.emit(self.path, count, self.generation)
        return count


def _ignore(_message: str) -> None:
    """Skipped entries are reported by the job itself, not by the count."""


class Counter:
    """Starts counts and cancels them; owned by the inputs panel."""

    def __init__(self, signals: CountSignals) -> None:
        self.signals = signals
        self.pool = QThreadPool()
        self.pool.setMaxThreadCount(2)
        self.generation = 0
        self._cancelled = threading.Event()

    def restart(self) -> int:
        """Cancel running counts; returns the new generation."""
        self._cancelled.set()
        self._cancelled = threading.Event()
        self.generation += 1
        return self.generation

    def count(self, path: str, include: tuple[str, ...], exclude: tuple[str, ...], recursive: bool,
              output: str, ignore_case: bool | None = None) -> None:
        skip = {os.path.realpath(output)} if output else set()
        task = CountTask(path, Filter(include, exclude, ignore_case), recursive, skip, self.generation, self.signals,
                         self._cancelled)
        self.pool.start(task)

    def stop(self) -> None:
        self._cancelled.set()
        self.pool.waitForDone(5000)
