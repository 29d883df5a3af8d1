"""The window's Provenance option: a sidecar beside each output when ticked, kept for next time."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QPoint, Qt
from pytestqt.qtbot import QtBot

from batchmill.gui.main_window import MainWindow
from batchmill.gui.settings import Settings
from gui_helpers import choose_processor, drop_paths, make_files, only_job, type_into, wait_for_state


def test_ticking_sidecar_writes_one_beside_each_output_and_is_remembered(
        window: MainWindow, qtbot: QtBot, tmp_path: Path, batchmill_home: Path) -> None:
    photos = make_files(tmp_path / "in" / "photos", 3)
    out = tmp_path / "out"
    assert drop_paths(window.inputs.drop_area, [photos])
    choose_processor(qtbot, window, "checksum")
    type_into(qtbot, window.task.output_edit, str(out))
    assert not window.task.sidecar_check.isChecked(), "off by default: the journal alone"

    check = window.task.sidecar_check
    qtbot.mouseClick(check, Qt.MouseButton.LeftButton, pos=QPoint(8, check.height() // 2))  # its box
    assert check.isChecked()
    qtbot.mouseClick(window.task.start_button, Qt.MouseButton.LeftButton)
    wait_for_state(qtbot, window, only_job(window), "completed")

    side = json.loads((out / "photos" / "SHA256SUMS.provenance.json").read_text())
    assert side["inputs"] == [{"path": str(photos), "kind": "folder"}]
    window.save_settings()
    assert Settings(batchmill_home).provenance() == "sidecar"
