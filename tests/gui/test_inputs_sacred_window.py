"""Issue 12, item 4 in the window: an output folder that is an input folder is refused beside
Start, naming both, and nothing is written."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from batchmill.gui.main_window import MainWindow
from gui_helpers import choose_processor, drop_paths, make_files, type_into


def test_an_output_that_makes_the_input_folder_its_own_output_is_refused(window: MainWindow, qtbot: QtBot,
                                                                         tmp_path: Path) -> None:
    photos = make_files(tmp_path / "x" / "photos", 3)
    before = {p.name: p.read_bytes() for p in photos.iterdir()}
    drop_paths(window.inputs.drop_area, [photos])
    choose_processor(qtbot, window, "checksum")
    type_into(qtbot, window.task.output_edit, str(tmp_path / "x"))

    qtbot.mouseClick(window.task.start_button, Qt.MouseButton.LeftButton)

    assert window.task.message.isVisible()
    assert window.task.message.text() == (
        f"The job cannot start: the output folder {photos} of input {photos} is the input folder {photos} itself; "
        "choose an output folder outside the inputs")
    assert window.bridge.jobs.rowCount() == 0
    assert {p.name: p.read_bytes() for p in photos.iterdir()} == before
