"""Help → About (the facts a support request should quote, with a Copy button) and Help →
Self-test… (real worker processes, run on a background thread; the verdict comes back through
a Qt signal, so the window never waits for it)."""

from __future__ import annotations

import threading
import traceback
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QApplication, QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QPlainTextEdit, QProgressBar, QPushButton,
    QVBoxLayout, QWidget,
)

from batchmill.core import __version__
from batchmill.core.diagnostics import collect
from batchmill.gui.resources import app_icon, icon

SELFTEST_THREAD = "batchmill-selftest"
PASS_STYLE = "color: #1e6b35; font-weight: bold;"
FAIL_STYLE = "color: #b3261e; font-weight: bold;"


def about_text(start_method: str, home: Path) -> str:
    """What About shows and Copy copies: one fact per line."""
    return "\n".join(collect(start_method).lines() + [f"journal and settings: {home}"])


def _monospace_view(text: str) -> QPlainTextEdit:
    view = QPlainTextEdit(text)
    view.setReadOnly(True)
    view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
    view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
    return view


def _buttons(dialog: QDialog, view: QPlainTextEdit) -> tuple[QDialogButtonBox, QPushButton]:
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    copy = QPushButton(icon("copy"), "Copy")
    copy.setToolTip("Copy this text, to paste into a support request")
    copy.clicked.connect(lambda: QApplication.clipboard().setText(view.toPlainText()))
    buttons.addButton(copy, QDialogButtonBox.ButtonRole.ActionRole)
    buttons.rejected.connect(dialog.reject)
    return buttons, copy


class AboutDialog(QDialog):
    def __init__(self, start_method: str, home: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About Batchmill")
        logo = QLabel()
        logo.setPixmap(app_icon().pixmap(64, 64))
        title = QLabel(f"<b style='font-size: 15pt'>Batchmill {__version__}</b><br>"
                       "Drop folders, pick a processor, and every core works through the files.")
        title.setWordWrap(True)
        heading = QHBoxLayout()
        heading.addWidget(logo, 0, Qt.AlignmentFlag.AlignTop)
        heading.addWidget(title, 1)
        self.view = _monospace_view(about_text(start_method, home))
        self.buttons, self.copy_button = _buttons(self, self.view)
        layout = QVBoxLayout(self)
        layout.addLayout(heading)
        layout.addWidget(QLabel("Please quote this in a support request:"))
        layout.addWidget(self.view, 1)
        layout.addWidget(self.buttons)
        self.resize(640, 280)

    def text(self) -> str:
        return self.view.toPlainText()


class SelftestRunner(QObject):
    """Runs batchmill.core.selftest on a plain thread; Qt queues its signals to the GUI thread."""

    progressed = Signal(str)
    finished = Signal(bool, str)  # passed, report text

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.thread: threading.Thread | None = None

    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def start(self) -> None:
        if self.running():
            return
        self.thread = threading.Thread(target=self._run, name=SELFTEST_THREAD, daemon=False)
        self.thread.start()

    def wait(self, timeout: float) -> None:
        if self.thread is not None:
            self.thread.join(timeout)

    def _run(self) -> None:
        from batchmill.core.selftest import run_selftest

        try:
            report = run_selftest(self.progressed.emit)
        except Exception:  # noqa: BLE001 - a self-test that breaks is a failed self-test, said in the dialog
            self.finished.emit(False, "The self-test itself failed:\n\n" + traceback.format_exc())
            return
        self.finished.emit(report.ok, report.text())


class SelftestDialog(QDialog):
    """Shows the self-test running, then its verdict and the full report."""

    def __init__(self, runner: SelftestRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Batchmill self-test")
        self.runner = runner
        self.passed: bool | None = None
        self.verdict = QLabel()
        self.verdict.setWordWrap(True)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)  # no end known: a moving bar says it is alive
        self.busy.setTextVisible(False)
        self.view = _monospace_view("")
        self.view.setPlaceholderText("The report appears here when the self-test has finished.")
        self.buttons, self.copy_button = _buttons(self, self.view)
        layout = QVBoxLayout(self)
        layout.addWidget(self.verdict)
        layout.addWidget(self.busy)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.buttons)
        self.resize(720, 380)
        runner.progressed.connect(self._on_progress)
        runner.finished.connect(self._on_finished)

    def start(self) -> None:
        self.passed = None
        self.view.clear()
        self.verdict.setStyleSheet("")
        self.verdict.setText("Running the self-test: starting worker processes… The window stays usable.")
        self.busy.show()
        self.copy_button.setEnabled(False)
        self.runner.start()

    def _on_progress(self, message: str) -> None:
        if self.passed is None:
            self.verdict.setText(f"Running the self-test: {message}")

    def _on_finished(self, passed: bool, text: str) -> None:
        self.passed = passed
        self.busy.hide()
        self.verdict.setStyleSheet(PASS_STYLE if passed else FAIL_STYLE)
        self.verdict.setText("Passed: worker processes run correctly on this computer." if passed
                             else "FAILED: see the report below, and please send it with a support request.")
        self.view.setPlainText(text)
        self.copy_button.setEnabled(True)
