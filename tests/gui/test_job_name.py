"""The job's name is the operator's: F2 (or Rename… in the row's menu) edits it in the queue, the
journal keeps it, and the window lists the job under that name after a restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLineEdit
from pytestqt.qtbot import QtBot

from batchmill.core.engine import Engine
from batchmill.core.spec import JobSpec
from batchmill.gui.bridge import Bridge
from batchmill.gui.jobs_model import Column
from batchmill.gui.main_window import MainWindow
from batchmill.gui.settings import Settings
from gui_helpers import cell, make_files, wait_for_state


@pytest.fixture
def opened(qtbot: QtBot, batchmill_home: Path) -> Iterator[list[MainWindow]]:
    windows: list[MainWindow] = []
    yield windows
    for win in windows:
        win.quit_now()
        win.close()
        win.bridge.engine.close()


def launch(qtbot: QtBot, home: Path, windows: list[MainWindow]) -> MainWindow:
    win = MainWindow(Bridge(Engine(home, file_events=False)), Settings(home))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    windows.append(win)
    return win


def test_f2_renames_the_job_in_the_journal_and_the_name_survives_a_restart(
        qtbot: QtBot, tmp_path: Path, batchmill_home: Path, opened: list[MainWindow]) -> None:
    first = launch(qtbot, batchmill_home, opened)
    inputs = make_files(tmp_path / "in", 3)
    job_id = first.bridge.submit(JobSpec("checksum", (str(inputs),), str(tmp_path / "out"), workers=1))
    wait_for_state(qtbot, first, job_id, "completed")
    assert cell(first, job_id, Column.NAME).startswith("checksum: ")

    first.queue.select(job_id)
    table = first.queue.table
    table.setFocus()
    table.setCurrentIndex(first.bridge.jobs.index(first.bridge.jobs.row_of(job_id) or 0, Column.NAME))
    qtbot.keyClick(table, Qt.Key.Key_F2)
    editor = QApplication.focusWidget()
    assert isinstance(editor, QLineEdit), "F2 must open an editor on the job's name"
    editor.selectAll()
    qtbot.keyClicks(editor, "survey 2026 - north")
    qtbot.keyClick(editor, Qt.Key.Key_Return)

    qtbot.waitUntil(lambda: cell(first, job_id, Column.NAME) == "survey 2026 - north")
    qtbot.waitUntil(lambda: first.bridge.engine.journal.get_job(job_id).name  # type: ignore[union-attr]
                    == "survey 2026 - north")  # written on the engine thread
    # A name of only spaces is no name: the old one stays.
    first.bridge.rename(job_id, "   ")
    assert cell(first, job_id, Column.NAME) == "survey 2026 - north"

    first.quit_now()
    first.close()
    first.bridge.engine.close()
    second = launch(qtbot, batchmill_home, opened)
    qtbot.waitUntil(lambda: second.bridge.jobs.row_of(job_id) is not None, timeout=10_000)
    assert cell(second, job_id, Column.NAME) == "survey 2026 - north"
    assert "survey 2026 - north" in second.bridge.jobs.index(second.bridge.jobs.row_of(job_id) or 0,
                                                               Column.NAME).data(Qt.ItemDataRole.ToolTipRole)


def test_rename_in_the_rows_menu_opens_the_editor(
        qtbot: QtBot, tmp_path: Path, batchmill_home: Path, opened: list[MainWindow]) -> None:
    win = launch(qtbot, batchmill_home, opened)
    inputs = make_files(tmp_path / "in", 2)
    job_id = win.bridge.submit(JobSpec("checksum", (str(inputs),), str(tmp_path / "out"), workers=1, name="old"))
    wait_for_state(qtbot, win, job_id, "completed")
    win.queue.select(job_id)
    actions = {a.text(): a for a in win.queue.context_menu.actions()}
    assert "Rename…" in actions
    actions["Rename…"].trigger()
    editor = QApplication.focusWidget()
    assert isinstance(editor, QLineEdit) and editor.text() == "old"
    editor.setText("new")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: cell(win, job_id, Column.NAME) == "new")
    qtbot.waitUntil(lambda: win.bridge.engine.journal.get_job(job_id).name == "new")  # type: ignore[union-attr]
