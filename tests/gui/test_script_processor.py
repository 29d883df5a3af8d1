"""A .py file dropped on the window becomes a processor: its form comes from the function's type
hints and defaults, its help from the docstring; a job with it runs in worker processes. A script
that cannot be used says why, and nothing else changes."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QLineEdit, QMenu, QSpinBox
from pytestqt.qtbot import QtBot

from batchmill.core.engine import Engine
from batchmill.gui.bridge import Bridge
from batchmill.gui.jobs_model import Column
from batchmill.gui.main_window import MainWindow
from batchmill.gui.settings import Settings
from gui_helpers import SCRIPTS, cell, drop_paths, make_files, only_job, type_into, wait_for_state

STAMP = SCRIPTS / "stamp_lines.py"


def reference() -> ModuleType:
    """The script as a module of the test, for its expected_output()."""
    spec = importlib.util.spec_from_file_location("stamp_lines_reference", STAMP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_dropped_script_becomes_a_processor_with_a_generated_form_and_runs(
        window: MainWindow, qtbot: QtBot, tmp_path: Path) -> None:
    folder = make_files(tmp_path / "in", 5)
    assert drop_paths(window.inputs.drop_area, [folder, STAMP])

    assert window.inputs.inputs() == (str(folder),)  # the script is not an input
    task = window.task
    assert task.processor_name() == "stamp_lines.process"
    assert task.processor_combo.currentText() == "stamp_lines.process   (your script)"
    assert task.description.text().startswith("Stamp every line of a text file with a label.\nFrom ")
    form = task.form
    assert {name: type(field.editor) for name, field in form.fields.items()} == {
        "label": QLineEdit, "repeat": QSpinBox, "shout": QCheckBox, "order": QComboBox, "weight": QDoubleSpinBox}
    assert form.values() == {"label": "seen", "repeat": 2, "shout": False, "order": "as-is", "weight": 1.5}
    order = form.field("order").editor
    assert isinstance(order, QComboBox) and [order.itemText(i) for i in range(order.count())] == ["as-is", "reversed"]
    assert form.field("label").editor.toolTip() == "the text put in front of every line"
    assert form.field("shout").editor.toolTip() == "write the whole output in capitals"
    assert form.extra_edit is None  # every parameter has its own field

    type_into(qtbot, form.field("label").editor, "checked")
    repeat = form.field("repeat").editor
    assert isinstance(repeat, QSpinBox)
    repeat.setValue(3)
    form.field("order").set_value("reversed")
    type_into(qtbot, task.output_edit, str(tmp_path / "out"))
    task.workers_spin.setValue(2)
    qtbot.mouseClick(task.start_button, Qt.MouseButton.LeftButton)
    job_id = only_job(window)
    assert window.bridge.jobs.jobs()[0].name == "stamp_lines.process: in"
    wait_for_state(qtbot, window, job_id, "completed")

    assert cell(window, job_id, Column.DONE) == "5"
    assert cell(window, job_id, Column.PROCESSOR) == "stamp_lines.process"  # runs as "python", named as the script
    expected = reference().expected_output
    for source in sorted(folder.iterdir()):
        written = (tmp_path / "out" / "in" / source.name).read_text(encoding="utf-8")
        assert written == expected(source.read_text(encoding="utf-8"), label="checked", repeat=3, order="reversed")


def test_a_script_dropped_anywhere_on_the_window_loads_and_is_remembered(
        window: MainWindow, qtbot: QtBot, batchmill_home: Path) -> None:
    assert drop_paths(window, [STAMP])
    assert window.task.processor_name() == "stamp_lines.process"
    assert window.inputs.inputs() == ()
    window.task.form.field("weight").set_value(2.5)
    window.save_settings()

    with Engine(batchmill_home) as engine:
        second = MainWindow(Bridge(engine), Settings(batchmill_home))
        qtbot.addWidget(second)
        assert second.task.processor_name() == "stamp_lines.process"
        assert second.task.form.values()["weight"] == 2.5
        second.quit_now()
        second.close()


def test_a_script_with_a_syntax_error_says_where_and_changes_nothing(
        window: MainWindow, qtbot: QtBot, tmp_path: Path) -> None:
    script = tmp_path / "broken.py"
    script.write_text("def process(src, dst)\n    pass\n")
    before = window.task.processor_combo.count()
    assert drop_paths(window.inputs.drop_area, [script])

    box = window.script_error_box
    assert box is not None and box.isVisible()
    assert box.text() == f"script {script} has a syntax error on line 1: expected ':'"
    assert window.task.processor_combo.count() == before
    assert window.task.processor_name() == "checksum"
    assert window.inputs.inputs() == ()


def test_a_script_without_a_process_function_names_what_it_has(window: MainWindow, tmp_path: Path) -> None:
    script = tmp_path / "helpers.py"
    script.write_text("def convert(src, dst):\n    pass\n\n\ndef _private():\n    pass\n")
    assert window.load_scripts([str(script)]) is None
    box = window.script_error_box
    assert box is not None and box.isVisible()
    assert box.text() == f"script {script} has no function 'process' (it defines: convert)"


def test_file_load_script_asks_for_a_python_file_and_loads_it(window: MainWindow,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def choose(_parent: object, caption: str, _folder: str, filters: str) -> tuple[str, str]:
        asked.append(filters)
        return str(STAMP), "Python files (*.py)"

    monkeypatch.setattr(QFileDialog, "getOpenFileName", choose)
    file_menu = window.menuBar().actions()[0].menu()
    assert isinstance(file_menu, QMenu)
    next(a for a in file_menu.actions() if a.text() == "&Load script…").trigger()
    assert asked == ["Python files (*.py);;All files (*)"]
    assert window.task.processor_name() == "stamp_lines.process"


def test_dropping_an_edited_script_again_updates_its_form_and_keeps_the_values(
        window: MainWindow, tmp_path: Path) -> None:
    script = tmp_path / "resize.py"
    script.write_text("def process(src, dst, width: int = 100):\n    dst.write_bytes(src.read_bytes())\n")
    assert drop_paths(window.inputs.drop_area, [script])
    window.task.form.field("width").set_value(640)
    script.write_text("def process(src, dst, width: int = 100, sharpen: bool = True):\n"
                      "    dst.write_bytes(src.read_bytes())\n")
    assert drop_paths(window.inputs.drop_area, [script])
    assert [window.task.processor_combo.itemData(i) for i in range(window.task.processor_combo.count())].count(
        "resize.process") == 1
    assert window.task.form.values() == {"width": 640, "sharpen": True}
