"""Help menu: About shows what a support request must quote (and copies it); Self-test runs real
worker processes on a background thread while the window goes on, and shows the verdict."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from batchmill.core import __version__
from batchmill.core.bootstrap import workers_executable
from batchmill.gui.help_dialogs import SELFTEST_THREAD
from batchmill.gui.main_window import MainWindow
from gui_helpers import drop_paths, make_files, only_job, type_into, wait_for_state

SELFTEST_TIMEOUT_MS = 20_000


def test_about_shows_version_frozen_start_method_workers_and_journal_and_copies_them(
        window: MainWindow, qtbot: QtBot, batchmill_home: Path) -> None:
    window.about_action.trigger()
    dialog = window.about_dialog
    assert dialog is not None
    qtbot.waitExposed(dialog)
    lines = dialog.text().splitlines()
    assert lines[:4] == [f"Batchmill {__version__}", "frozen: no", "start method: spawn",
                         f"worker executable: {workers_executable()}"]
    assert lines[-1] == f"journal and settings: {batchmill_home}"

    QApplication.clipboard().clear()
    dialog.copy_button.click()
    assert QApplication.clipboard().text() == dialog.text()


def test_selftest_runs_in_the_background_and_shows_a_passing_verdict(
        window: MainWindow, qtbot: QtBot, tmp_path: Path) -> None:
    # A job first: the window's own pool stays up between jobs, and must not confuse the self-test.
    drop_paths(window.inputs.drop_area, [make_files(tmp_path / "in", 3)])
    type_into(qtbot, window.task.output_edit, str(tmp_path / "out"))
    window.task.workers_spin.setValue(2)
    window.start_job()
    wait_for_state(qtbot, window, only_job(window), "completed")

    ticks: list[float] = []
    clock = QTimer()
    clock.setInterval(20)
    clock.timeout.connect(lambda: ticks.append(time.monotonic()))
    clock.start()
    started = time.monotonic()
    window.selftest_action.trigger()
    assert time.monotonic() - started < 0.5, "starting the self-test held the window"
    dialog = window.selftest_dialog
    assert dialog is not None and dialog.isVisible()
    runner = window.selftest_runner
    assert runner.thread is not None and runner.thread.name == SELFTEST_THREAD
    assert runner.thread is not threading.main_thread()
    assert dialog.verdict.text().startswith("Running the self-test")  # not done yet: it runs elsewhere
    with qtbot.waitSignal(runner.finished, timeout=SELFTEST_TIMEOUT_MS) as finished:
        pass
    clock.stop()

    assert finished.args is not None and finished.args[0] is True, finished.args
    assert dialog.passed is True
    assert dialog.verdict.text() == "Passed: worker processes run correctly on this computer."
    report = dialog.view.toPlainText()
    assert "VERDICT: PASS" in report
    assert "[PASS] lambda shipped with dill: 24/24 outputs correct" in report
    assert "[FAIL]" not in report
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    assert max(gaps, default=0.0) < 1.0, f"the window stalled for {max(gaps):.2f} s during the self-test"
    runner.wait(10)
    assert not runner.running()
