"""The inputs list: drops, Add folder…/Add files…, background counts, patterns, removing an input."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QUrl
from PySide6.QtWidgets import QFileDialog
from pytestqt.qtbot import QtBot

from batchmill.gui.main_window import MainWindow
from gui_helpers import drop_paths, make_files


def test_a_drop_without_local_files_is_refused(window: MainWindow) -> None:
    assert not drop_paths(window.inputs.drop_area, [], urls=[QUrl("https://example.com/a.txt")])
    assert window.inputs.inputs() == ()


def test_dropping_the_same_folder_twice_lists_it_once(window: MainWindow, qtbot: QtBot, tmp_path: Path) -> None:
    folder = make_files(tmp_path / "in", 3)
    single = tmp_path / "single file.txt"
    single.write_text("one\n")
    drop_paths(window.inputs.drop_area, [folder, single])
    drop_paths(window.inputs.drop_area, [folder])
    assert window.inputs.inputs() == (str(folder), str(single))
    qtbot.waitUntil(lambda: window.inputs.count_text(str(single)) == "1 file")


def test_add_buttons_use_the_file_dialogs(window: MainWindow, qtbot: QtBot, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    folder = make_files(tmp_path / "picked folder", 4)
    files = [tmp_path / "a.txt", tmp_path / "b.txt"]
    for f in files:
        f.write_text("x\n")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", lambda *a, **k: ([str(f) for f in files], ""))
    qtbot.mouseClick(window.inputs.add_folder_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(window.inputs.add_files_button, Qt.MouseButton.LeftButton)
    assert window.inputs.inputs() == (str(folder), *(str(f) for f in files))
    qtbot.waitUntil(lambda: window.inputs.summary.text() == "3 inputs · 6 files")


def test_counts_arrive_in_the_background_and_follow_the_patterns(
        window: MainWindow, qtbot: QtBot, tmp_path: Path) -> None:
    folder = make_files(tmp_path / "in", 1500, suffix=".txt")
    make_files(folder / "raw", 500, suffix=".raw")
    drop_paths(window.inputs.drop_area, [folder])
    # The drop returned before the scan: the window shows that it is counting, not a number.
    assert window.inputs.count_text(str(folder)).startswith("counting…")
    assert window.inputs.count_of(str(folder)) is None
    qtbot.waitUntil(lambda: window.inputs.count_text(str(folder)) == "2,000 files")

    window.inputs.include_edit.setText("*.txt")
    window.inputs.include_edit.editingFinished.emit()
    qtbot.waitUntil(lambda: window.inputs.count_text(str(folder)) == "1,500 files")
    window.inputs.include_edit.clear()
    window.inputs.exclude_edit.setText("f00*.txt; raw")
    window.inputs.exclude_edit.editingFinished.emit()
    qtbot.waitUntil(lambda: window.inputs.count_text(str(folder)) == "1,490 files")
    assert window.inputs.exclude() == ("f00*.txt", "raw")
    window.inputs.exclude_edit.clear()
    window.inputs.exclude_edit.editingFinished.emit()
    window.inputs.recursive_check.setChecked(False)
    qtbot.waitUntil(lambda: window.inputs.count_text(str(folder)) == "1,500 files")


def test_remove_takes_only_the_selected_input_off(window: MainWindow, qtbot: QtBot, tmp_path: Path) -> None:
    a, b = make_files(tmp_path / "a", 1), make_files(tmp_path / "b", 1)
    drop_paths(window.inputs.drop_area, [a, b])
    assert not window.inputs.remove_button.isEnabled()
    window.inputs.drop_area.list.setCurrentItem(window.inputs.drop_area.list.topLevelItem(0))
    qtbot.mouseClick(window.inputs.remove_button, Qt.MouseButton.LeftButton)
    assert window.inputs.inputs() == (str(b),)
    assert a.is_dir(), "removing an input never touches the disk"
