"""Closing while jobs run asks first and then leaves no process; unexpected exceptions open a dialog;
opening the output folder."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QDesktopServices
from pytestqt.qtbot import QtBot

from batchmill.core.engine import Engine
from batchmill.core.events import JobState
from batchmill.gui.errors import ErrorReporter
from batchmill.gui.main_window import MainWindow
from gui_helpers import cell, drop_paths, make_files, only_job, set_up_python_job, worker_processes
from batchmill.gui.jobs_model import Column, JobRow


def start_slow_job(window: MainWindow, qtbot: QtBot, tmp_path: Path) -> str:
    drop_paths(window.inputs.drop_area, [make_files(tmp_path / "in", 40)])
    set_up_python_job(qtbot, window, "slow_copy.py", {"delay": 0.1}, tmp_path / "out")
    qtbot.mouseClick(window.task.start_button, Qt.MouseButton.LeftButton)
    job_id = only_job(window)
    qtbot.waitUntil(lambda: cell(window, job_id, Column.STATE) == "running", timeout=15_000)
    return job_id


def test_closing_while_a_job_runs_asks_first(window: MainWindow, engine: Engine, qtbot: QtBot,
                                             tmp_path: Path) -> None:
    job_id = start_slow_job(window, qtbot, tmp_path)

    window.close()
    box = window.close_box
    assert box is not None
    qtbot.waitUntil(box.isVisible)
    assert box.text() == "1 job is still running or queued."
    keep = next(b for b in box.buttons() if b.text() == "Keep running")
    qtbot.mouseClick(keep, Qt.MouseButton.LeftButton)
    assert window.isVisible() and engine.state_of(job_id) is JobState.RUNNING

    window.close()
    box = window.close_box
    qtbot.waitUntil(box.isVisible)
    quit_button = next(b for b in box.buttons() if b.text() == "Stop jobs and quit")
    qtbot.mouseClick(quit_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.isVisible())
    assert not [t for t in threading.enumerate() if t.name == "batchmill-engine"]
    assert not worker_processes()
    record = engine.journal.get_job(job_id)
    assert record is not None and record.state is JobState.INTERRUPTED and record.done < 40


def test_an_unexpected_exception_opens_an_error_dialog(window: MainWindow, qtbot: QtBot) -> None:
    reporter = ErrorReporter(window)
    reporter.install()
    try:
        try:
            raise RuntimeError("something nobody expected")
        except RuntimeError:
            sys.excepthook(*sys.exc_info())  # type: ignore[arg-type]
        dialog = reporter.dialog
        assert dialog is not None
        qtbot.waitUntil(dialog.isVisible)
        assert dialog.informativeText() == "RuntimeError: something nobody expected"
        assert "Traceback" in dialog.detailedText() and "test_lifecycle.py" in dialog.detailedText()

        thread = threading.Thread(target=fail_in_a_thread, name="a-helper-thread")
        thread.start()
        thread.join()
        qtbot.waitUntil(lambda: len(reporter.reported) == 2)
        assert "ValueError: from a thread" in dialog.informativeText()
        assert "ValueError: from a thread" in dialog.detailedText()
        dialog.close()
    finally:
        reporter.uninstall()
    assert sys.excepthook != reporter.hook


def fail_in_a_thread() -> None:
    raise ValueError("from a thread")


def test_open_output_opens_the_jobs_folder(window: MainWindow, qtbot: QtBot, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[str] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or True)
    drop_paths(window.inputs.drop_area, [make_files(tmp_path / "in", 2)])
    set_up_python_job(qtbot, window, "slow_copy.py", {"delay": 0}, tmp_path / "out")
    qtbot.mouseClick(window.task.start_button, Qt.MouseButton.LeftButton)
    job_id = only_job(window)
    qtbot.waitUntil(lambda: cell(window, job_id, Column.STATE) == "completed", timeout=30_000)
    qtbot.mouseClick(window.queue.open_button, Qt.MouseButton.LeftButton)
    assert opened == [str(tmp_path / "out")]


def test_open_output_without_a_file_manager_says_so_in_the_window(
        window: MainWindow, qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: False)  # no launcher on this machine
    out = tmp_path / "out"
    out.mkdir()
    window.bridge.jobs.add(JobRow("j1", "a job", "checksum", str(out), state=JobState.COMPLETED, total=1, done=1))
    window.queue.select("j1")
    qtbot.mouseClick(window.queue.open_button, Qt.MouseButton.LeftButton)
    box = window.problem_box
    assert box is not None
    qtbot.waitUntil(box.isVisible)
    assert str(out) in box.text() and "No file manager" in box.text()
