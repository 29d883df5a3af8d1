"""An unexpected exception anywhere opens an error dialog on the main thread instead of vanishing.

``sys.excepthook`` (exceptions in Qt slots and event handlers end there) and
``threading.excepthook`` both hand the formatted traceback to a signal of a
QObject that lives in the GUI thread, so the dialog is always created there.
"""

from __future__ import annotations

import sys
import threading
import traceback
from types import TracebackType

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

MAX_DETAILS = 20_000


class ErrorReporter(QObject):
    raised = Signal(str, str)  # one-line summary, full traceback

    def __init__(self, window: QWidget | None = None) -> None:
        super().__init__()
        self.window = window
        self.dialog: QMessageBox | None = None
        self.reported: list[str] = []
        self._previous_hook = sys.excepthook
        self._previous_thread_hook = threading.excepthook
        self.raised.connect(self.show_error)

    def install(self) -> None:
        self._previous_hook = sys.excepthook
        self._previous_thread_hook = threading.excepthook
        sys.excepthook = self.hook
        threading.excepthook = self.thread_hook

    def uninstall(self) -> None:
        if sys.excepthook == self.hook:
            sys.excepthook = self._previous_hook
        if threading.excepthook == self.thread_hook:
            threading.excepthook = self._previous_thread_hook

    def hook(self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            self._previous_hook(exc_type, exc, tb)
            return
        details = "".join(traceback.format_exception(exc_type, exc, tb))
        print(details, file=sys.stderr, end="")  # also on the console, for bug reports
        self.raised.emit(f"{exc_type.__name__}: {exc}", details)

    def thread_hook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None:
            return
        self.hook(args.exc_type, args.exc_value, args.exc_traceback)

    def show_error(self, summary: str, details: str, headline: str = "") -> None:
        """``headline`` replaces the dialog's first sentence (the default: running jobs go on)."""
        self.reported.append(summary)
        if self.dialog is not None and self.dialog.isVisible():
            # One dialog at a time: later errors are added to it, not stacked on the screen.
            more = (self.dialog.detailedText() + "\n\n" + details)[-MAX_DETAILS:]
            self.dialog.setDetailedText(more)
            self.dialog.setInformativeText(f"{len(self.reported)} errors so far; the latest: {summary}")
            return
        box = QMessageBox(self.window)
        box.setIcon(QMessageBox.Icon.Critical)
        box.setWindowTitle("Batchmill — unexpected error")
        box.setText(headline or "Something went wrong inside Batchmill. Running jobs go on; "
                                "please report this with the details below.")
        box.setInformativeText(summary)
        box.setDetailedText(details[-MAX_DETAILS:])
        box.setStandardButtons(QMessageBox.StandardButton.Close)
        self.dialog = box
        box.open()
