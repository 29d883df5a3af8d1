"""Presets: saved from the window (through its dialog), used by `batchmill run --preset` with the
same result; applied back to the form from the Presets menu; deleted from it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox, QLineEdit, QPushButton
from pytestqt.qtbot import QtBot

from batchmill.core.presets import Preset, list_presets, load_preset, save_preset
from batchmill.core.spec import Overwrite
from batchmill.gui.main_window import MainWindow
from gui_helpers import SCRIPTS, choose_processor, drop_paths, make_files, only_job, type_into, wait_for_state

STAMP = SCRIPTS / "stamp_lines.py"
BATCHMILL = Path(sys.executable).with_name("batchmill")


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def save_through_dialog(qtbot: QtBot, window: MainWindow, name: str) -> None:
    window.presets_menu.save_action.trigger()
    dialog = window.presets_menu.name_dialog
    assert dialog is not None and dialog.isVisible()
    edit = dialog.findChild(QLineEdit)
    assert edit is not None
    edit.clear()
    qtbot.keyClicks(edit, name)
    box = dialog.findChild(QDialogButtonBox)
    assert box is not None
    qtbot.mouseClick(box.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.isVisible())


def menu_action(window: MainWindow, text: str, delete: bool = False):  # type: ignore[no-untyped-def]
    menu = window.presets_menu.delete_menu if delete else window.presets_menu
    window.presets_menu.rebuild()
    found = [a for a in menu.actions() if a.text() == text]
    assert found, f"no {text!r} in {[a.text() for a in menu.actions()]}"
    return found[0]


def test_a_preset_saved_from_the_window_gives_the_cli_the_same_result(
        window: MainWindow, qtbot: QtBot, tmp_path: Path, batchmill_home: Path) -> None:
    folder = make_files(tmp_path / "in", 4)
    make_files(folder / "logs", 2, prefix="run", suffix=".log")  # left out by the preset's include
    drop_paths(window.inputs.drop_area, [folder, STAMP])
    form = window.task.form
    type_into(qtbot, form.field("label").editor, "preset")
    form.field("shout").set_value(True)
    type_into(qtbot, window.inputs.include_edit, "*.txt")
    type_into(qtbot, window.task.names.edit, "{stem}_stamped{ext}")
    type_into(qtbot, window.task.output_edit, str(tmp_path / "out-window"))
    window.task.workers_spin.setValue(2)

    save_through_dialog(qtbot, window, "stamp shouting")
    assert list_presets(batchmill_home) == ["stamp shouting"]
    preset = load_preset("stamp shouting", batchmill_home)
    assert preset.processor == "python"
    assert preset.params == {"script": str(STAMP), "function": "process", "label": "preset", "repeat": 2,
                             "shout": True, "order": "as-is", "weight": 1.5}
    assert (preset.include, preset.name_template, preset.workers) == (("*.txt",), "{stem}_stamped{ext}", 2)
    assert window.presets_menu.entries() == ["stamp shouting"]

    qtbot.mouseClick(window.task.start_button, Qt.MouseButton.LeftButton)
    wait_for_state(qtbot, window, only_job(window), "completed")
    cli = subprocess.run([str(BATCHMILL), "run", "--preset", "stamp shouting", str(folder),
                          "--output", str(tmp_path / "out-cli"), "--json"],
                         capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["done"] == 4

    from_window = tree(tmp_path / "out-window")
    assert sorted(from_window) == [f"in/f{i:03d}_stamped.txt" for i in range(4)]
    assert from_window["in/f000_stamped.txt"] == b"WEIGHT 1.5\nPRESET: IN FILE 0\nPRESET: IN FILE 0\n"
    assert tree(tmp_path / "out-cli") == from_window


def test_a_preset_applies_every_option_to_the_form_and_can_be_deleted(
        window: MainWindow, qtbot: QtBot, tmp_path: Path, batchmill_home: Path) -> None:
    choose_processor(qtbot, window, "checksum")
    window.task.form.field("algorithm").set_value("md5")
    type_into(qtbot, window.task.output_edit, str(tmp_path / "sums"))
    window.task.set_overwrite(Overwrite.REPLACE)
    window.task.workers_spin.setValue(1)
    window.task.timeout_spin.setValue(5)
    window.task.retries_spin.setValue(2)
    type_into(qtbot, window.inputs.exclude_edit, "*.tmp, .git")
    window.inputs.recursive_check.setChecked(False)
    assert window.presets_menu.save("md5 sums")

    choose_processor(qtbot, window, "image")
    window.task.set_output(str(tmp_path / "elsewhere"))
    window.task.set_overwrite(Overwrite.SKIP)
    window.task.workers_spin.setValue(3)
    window.task.timeout_spin.setValue(0)
    window.task.retries_spin.setValue(0)
    window.inputs.set_patterns((), (), True)

    menu_action(window, "md5 sums").trigger()
    task = window.task
    assert (task.processor_name(), task.form.values()) == ("checksum", {"algorithm": "md5"})
    assert (task.output(), task.overwrite(), task.workers(), task.timeout(), task.retries()) == \
        (str(tmp_path / "sums"), Overwrite.REPLACE, 1, 5.0, 2)
    assert (window.inputs.exclude(), window.inputs.recursive()) == (("*.tmp", ".git"), False)
    assert window.notifications[-1] == "Applied the preset “md5 sums”"

    menu_action(window, "md5 sums", delete=True).trigger()
    box = window.presets_menu.confirm_box
    assert box is not None and box.isVisible() and box.text() == "Delete the preset “md5 sums”?"
    delete = next(b for b in box.buttons() if isinstance(b, QPushButton) and b.text() == "Delete")
    qtbot.mouseClick(delete, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: list_presets(batchmill_home) == [])
    assert window.presets_menu.entries() == []


def test_a_script_preset_made_elsewhere_loads_its_script_as_a_processor(
        window: MainWindow, qtbot: QtBot, batchmill_home: Path) -> None:
    save_preset(Preset("from the cli", "python", {"script": str(STAMP), "function": "process", "repeat": "4",
                                                  "order": "reversed"}), batchmill_home)
    menu_action(window, "from the cli").trigger()
    assert window.task.processor_name() == "stamp_lines.process"
    assert window.task.form.values() == {"label": "seen", "repeat": 4, "shout": False, "order": "reversed",
                                         "weight": 1.5}
