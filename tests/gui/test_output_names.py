"""The "Output names" template: checked and previewed as it is typed, passed to the job, remembered."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from batchmill.core.engine import Engine
from batchmill.gui.bridge import Bridge
from batchmill.gui.main_window import MainWindow
from batchmill.gui.settings import Settings
from gui_helpers import (
    choose_processor, drop_paths, make_files, only_job, set_up_python_job, type_into, wait_for_state,
)


def preview(window: MainWindow) -> str:
    return window.task.names.preview.text()


def test_the_preview_follows_the_template_as_it_is_typed(window: MainWindow, qtbot: QtBot, tmp_path: Path) -> None:
    choose_processor(qtbot, window, "image")
    window.task.form.field("format").set_value("png")
    assert preview(window) == "e.g. photo.jpg → photo.png"  # no inputs yet: an example
    drop_paths(window.inputs.drop_area, [make_files(tmp_path / "in", 3, prefix="scan_", suffix=".txt")])
    qtbot.waitUntil(lambda: preview(window) == "scan_000.txt → scan_000.png")

    edit = window.task.names.edit
    edit.setFocus()
    qtbot.keyClicks(edit, "{st")
    assert "gives every file the same name" in preview(window)  # said at once, next to the field
    assert window.task.names.preview.styleSheet() != window.task.description.styleSheet()
    qtbot.keyClicks(edit, "em}_small")
    assert preview(window) == "scan_000.txt → scan_000_small"
    qtbot.keyClicks(edit, "{ext}")
    assert preview(window) == "scan_000.txt → scan_000_small.png"

    window.task.form.field("format").set_value("jpeg")  # the extension follows the processor's parameters
    assert preview(window) == "scan_000.txt → scan_000_small.jpg"
    choose_processor(qtbot, window, "checksum")
    assert preview(window) == "checksum writes no output per file, so there is nothing to name"


def test_a_bad_template_is_named_and_nothing_starts(window: MainWindow, qtbot: QtBot, tmp_path: Path) -> None:
    set_up_python_job(qtbot, window, "slow_copy.py", {"delay": 0}, tmp_path / "out")
    drop_paths(window.inputs.drop_area, [make_files(tmp_path / "in", 2)])
    type_into(qtbot, window.task.names.edit, "{stem}_{size}{ext}")
    expected = ("The output name template '{stem}_{size}{ext}' has an unknown placeholder {size}; "
                "use {stem}, {ext}, {name}")
    assert preview(window) == expected
    qtbot.mouseClick(window.task.start_button, Qt.MouseButton.LeftButton)
    assert window.task.message.isVisible() and window.task.message.text() == expected
    assert window.bridge.jobs.rowCount() == 0


def test_a_job_from_the_window_writes_the_templated_names_and_the_template_is_remembered(
        window: MainWindow, qtbot: QtBot, tmp_path: Path, batchmill_home: Path) -> None:
    folder = make_files(tmp_path / "in", 4)
    drop_paths(window.inputs.drop_area, [folder])
    set_up_python_job(qtbot, window, "slow_copy.py", {"delay": 0}, tmp_path / "out")
    type_into(qtbot, window.task.names.edit, "{stem}_small{ext}")
    qtbot.waitUntil(lambda: preview(window) == "f000.txt → f000_small.txt")

    qtbot.mouseClick(window.task.start_button, Qt.MouseButton.LeftButton)
    wait_for_state(qtbot, window, only_job(window), "completed")
    written = sorted(p.name for p in (tmp_path / "out" / "in").iterdir())
    assert written == [f"f{i:03d}_small.txt" for i in range(4)]
    for i in range(4):
        assert (tmp_path / "out" / "in" / f"f{i:03d}_small.txt").read_bytes() == \
            (folder / f"f{i:03d}.txt").read_bytes()

    window.save_settings()
    with Engine(batchmill_home) as engine:
        second = MainWindow(Bridge(engine), Settings(batchmill_home))
        qtbot.addWidget(second)
        assert second.task.name_template() == "{stem}_small{ext}"
        second.quit_now()
        second.close()
