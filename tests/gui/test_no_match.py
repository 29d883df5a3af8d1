"""A job whose inputs and patterns match no file says so in the window (its log line and
notification) and ``batchmill gui --start --exit-when-done`` exits 4 like ``batchmill run``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from batchmill.core.exit_status import EXIT_NO_FILES
from batchmill.gui.main_window import MainWindow
from gui_helpers import choose_processor, drop_paths, make_files, only_job, type_into, wait_for_state


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="patterns ignore case there by default")
def test_the_window_says_no_file_matched(window: MainWindow, qtbot: QtBot, tmp_path: Path) -> None:
    photos = make_files(tmp_path / "photos", 3, suffix=".JPG")
    assert drop_paths(window.inputs.drop_area, [photos])
    type_into(qtbot, window.inputs.include_edit, "*.jpg")
    window.inputs.include_edit.editingFinished.emit()
    choose_processor(qtbot, window, "checksum")
    type_into(qtbot, window.task.output_edit, str(tmp_path / "out"))

    qtbot.mouseClick(window.task.start_button, Qt.MouseButton.LeftButton)
    job_id = only_job(window)
    wait_for_state(qtbot, window, job_id, "completed")

    qtbot.waitUntil(lambda: any("no file matched" in n for n in window.notifications))
    said = next(n for n in window.notifications if "no file matched" in n)
    assert "--include '*.jpg'" in said and "--ignore-case" in said


def test_gui_exit_when_done_exits_4_when_nothing_matches(tmp_path: Path, batchmill_home: Path) -> None:
    (tmp_path / "empty").mkdir()
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "BATCHMILL_HOME": str(batchmill_home)}
    done = subprocess.run([sys.executable, "-m", "batchmill.gui.launcher", "gui", str(tmp_path / "empty"),
                           "--processor", "checksum", "--output", str(tmp_path / "out"), "--start",
                           "--exit-when-done"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == EXIT_NO_FILES, done.stderr


def test_ignore_case_in_the_window_counts_and_runs_the_upper_case_files(
        window: MainWindow, qtbot: QtBot, tmp_path: Path) -> None:
    photos = make_files(tmp_path / "photos", 3, suffix=".JPG")
    make_files(photos / "nested", 2, suffix=".JPG")
    assert drop_paths(window.inputs.drop_area, [photos])
    type_into(qtbot, window.inputs.include_edit, "**/*.jpg")
    window.inputs.include_edit.editingFinished.emit()
    window.inputs.ignore_case_check.setChecked(False)
    qtbot.waitUntil(lambda: window.inputs.count_text(str(photos)) == "0 files")
    window.inputs.ignore_case_check.setChecked(True)
    qtbot.waitUntil(lambda: window.inputs.count_text(str(photos)) == "5 files")
    choose_processor(qtbot, window, "checksum")
    type_into(qtbot, window.task.output_edit, str(tmp_path / "out"))

    qtbot.mouseClick(window.task.start_button, Qt.MouseButton.LeftButton)
    job_id = only_job(window)
    wait_for_state(qtbot, window, job_id, "completed")
    assert window.bridge.jobs.job(job_id).done == 5  # type: ignore[union-attr]
