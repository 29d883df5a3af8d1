"""Triage: select some of a job's failed files in Details and Retry selected runs only those again."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, Qt
from pytestqt.qtbot import QtBot

from batchmill.gui.jobs_model import Column
from batchmill.gui.main_window import MainWindow
from gui_helpers import BAD, cell, mixed_folder, run_flaky_job, wait_for_state



def test_retry_selected_runs_only_the_selected_failed_files(window: MainWindow, qtbot: QtBot, tmp_path: Path) -> None:
    inputs = mixed_folder(tmp_path / "in", 4)
    flag, calls = tmp_path / "fixed.flag", tmp_path / "calls.log"
    job_id = run_flaky_job(qtbot, window, inputs, tmp_path / "out", {"fixed_flag": flag, "calls_log": calls})

    qtbot.mouseClick(window.queue.details_button, Qt.MouseButton.LeftButton)
    dialog = window.details[job_id]
    qtbot.waitUntil(dialog.isVisible)
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 3)  # read off the window's thread
    assert [dialog.table.item(r, 0).text() for r in range(3)] == [f"in/{n}" for n in BAD]
    dialog.table.clearSelection()
    assert not dialog.retry_selected_button.isEnabled(), "nothing selected: nothing to retry"
    flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
    for row in (0, 2):  # bad1 and bad3, not bad2
        dialog.table.selectionModel().select(dialog.table.model().index(row, 0), flags)
    assert dialog.retry_selected_button.isEnabled()
    assert dialog.retry_selected_button.text() == "Retry selected (2)"

    flag.write_text("fixed")
    qtbot.mouseClick(dialog.retry_selected_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: cell(window, job_id, Column.FAILED) == "1", timeout=60_000)
    wait_for_state(qtbot, window, job_id, "completed, 1 failed")
    assert cell(window, job_id, Column.DONE) == "6"
    runs = Counter(calls.read_text().split())
    assert {name: n for name, n in runs.items() if n != 1} == {"bad1.txt": 2, "bad3.txt": 2}, runs
    assert runs["bad2.txt"] == 1 and len(runs) == 7
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 1)
    assert dialog.table.item(0, 0).text() == "in/bad2.txt"
    record = window.bridge.engine.journal.get_job(job_id)
    assert record is not None and (record.done, record.failed) == (6, 1)
