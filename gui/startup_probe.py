"""Start-up timing: ``BATCHMILL_STARTUP_PROBE`` holds the launcher's ``time.time()`` at launch;
the window reports how long it took to be shown and painted, then quits (exit status 0).

Measured at the first paint of the window plus one turn of the event loop, so the
figure covers interpreter start, imports, building the window and its first frame."""

from __future__ import annotations

import os
import sys
import time

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow, QWidget

STARTUP_PROBE = "BATCHMILL_STARTUP_PROBE"


def startup_probe() -> float | None:
    """The launcher's time.time() from BATCHMILL_STARTUP_PROBE, if a start-up measurement is asked for."""
    raw = os.environ.get(STARTUP_PROBE)
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        print(f"batchmill gui: ignoring {STARTUP_PROBE}={raw!r}: not a time.time() value", file=sys.stderr)
        return None


class FirstPaint(QObject):
    """Waits for the first paint of anything in the window, lets the event loop finish that frame,
    then prints the time since launch and closes the window."""

    def __init__(self, window: QMainWindow, app: QApplication, launched_at: float) -> None:
        super().__init__()
        self.window, self.app, self.launched_at = window, app, launched_at
        self.seen = False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if (not self.seen and event.type() == QEvent.Type.Paint and isinstance(watched, QWidget)
                and watched.window() is self.window):
            self.seen = True
            QTimer.singleShot(0, self.report)
        return False

    def report(self) -> None:
        self.app.removeEventFilter(self)
        print(f"window shown after {time.time() - self.launched_at:.3f} s", flush=True)
        quit_now = getattr(self.window, "quit_now", None)
        if quit_now is not None:
            quit_now()
        self.window.close()
        self.app.quit()


def report_first_paint(window: QMainWindow, app: QApplication, launched_at: float) -> FirstPaint:
    watcher = FirstPaint(window, app, launched_at)
    watcher.setParent(window)  # lives as long as the window
    app.installEventFilter(watcher)
    return watcher
