"""What a processor can use while it works on one file: progress reports and a scratch folder."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

# A worker passes progress on at most this often; a processor may call progress() freely.
PROGRESS_INTERVAL_S = 0.1


class ProcessorContext:
    """Handed to a processor that asks for it (a parameter named ``context``).

    ``progress(0.4, "page 4 of 10")`` reports progress within the current file;
    ``scratch`` is a private folder of this worker, emptied when the worker exits.
    """

    def __init__(self, worker: int, scratch_root: Path, send_progress: Callable[[float | None, str], None]) -> None:
        self.worker = worker
        self._scratch_root = scratch_root
        self._send_progress = send_progress
        self._last_sent = 0.0
        self._scratch: Path | None = None
        self.src: Path | None = None
        self.dst: Path | None = None
        # Set by a task marked ``raw_paths`` (it gets str paths and no stat is made for it):
        # the input's size in bytes, for the journal.
        self.input_size: int | None = None

    @property
    def scratch(self) -> Path:
        if self._scratch is None:
            self._scratch = self._scratch_root / f"worker-{self.worker}"
            self._scratch.mkdir(parents=True, exist_ok=True)
        return self._scratch

    def progress(self, fraction: float | None, message: str = "") -> None:
        now = time.monotonic()
        if fraction is not None and fraction < 1.0 and now - self._last_sent < PROGRESS_INTERVAL_S:
            return
        self._last_sent = now
        clamped = None if fraction is None else min(1.0, max(0.0, float(fraction)))
        self._send_progress(clamped, message)
