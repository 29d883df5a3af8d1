"""The parameter form generated from a processor's declared parameters."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QLineEdit, QSpinBox
from pytestqt.qtbot import QtBot

from batchmill.core.processors import Param, ParamError, Processor
from batchmill.gui.main_window import MainWindow
from batchmill.gui.params_form import FormError, ParamsForm
from gui_helpers import SCRIPTS, choose_processor, drop_paths, make_files, type_into


class EveryTypeProcessor(Processor):
    """A processor declaring one parameter of every kind the form knows."""

    name = "every-type"
    description = "for the form tests"
    params = (
        Param("mode", str, "fast", ("fast", "careful"), "How to work."),
        Param("strip", bool, True, (), "Drop metadata."),
        Param("size", int, 640, (), "Longest side in pixels.", minimum=16, maximum=4096),
        Param("quality", float, 0.85, (), "Compression quality.", minimum=0.0, maximum=1.0),
        Param("lookup", Path, None, (), "A table to read.", required=True),
        Param("label", str, "copy", (), "Added to each name."),
    )

    def validate(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        values = super().validate(raw)
        if "/" in values["label"]:
            raise ParamError(f"parameter 'label' cannot contain '/'; got {values['label']!r}")
        return values


@pytest.fixture
def form(qtbot: QtBot) -> ParamsForm:
    widget = ParamsForm()
    qtbot.addWidget(widget)
    widget.set_processor(EveryTypeProcessor())
    widget.show()
    return widget


def test_each_type_gets_its_widget_default_and_tooltip(form: ParamsForm) -> None:
    kinds = {name: type(form.field(name).editor) for name in form.fields}
    assert kinds == {"mode": QComboBox, "strip": QCheckBox, "size": QSpinBox, "quality": QDoubleSpinBox,
                     "lookup": QLineEdit, "label": QLineEdit}
    mode = form.field("mode").editor
    assert isinstance(mode, QComboBox)
    assert [mode.itemText(i) for i in range(mode.count())] == ["fast", "careful"]
    size = form.field("size").editor
    assert isinstance(size, QSpinBox) and (size.minimum(), size.maximum(), size.value()) == (16, 4096, 640)
    assert form.field("lookup").browse.text() == "Browse…"
    assert form.field("quality").editor.toolTip() == "Compression quality."
    assert form.field("lookup").editor.toolTip() == "A table to read. (required)"
    assert form.values() == {"mode": "fast", "strip": True, "size": 640, "quality": 0.85, "label": "copy"}


def test_a_bad_value_gets_its_message_next_to_it(form: ParamsForm, qtbot: QtBot, tmp_path: Path) -> None:
    with pytest.raises(FormError):
        form.check()
    lookup = form.field("lookup")
    assert lookup.error.isVisible() and lookup.error.text() == "lookup is required: A table to read."
    assert not form.field("label").error.isVisible()

    type_into(qtbot, lookup.editor, str(tmp_path / "table.csv"))
    assert not lookup.error.isVisible()
    type_into(qtbot, form.field("label").editor, "a/b")
    with pytest.raises(FormError):
        form.check()
    assert form.field("label").error.text() == "parameter 'label' cannot contain '/'; got 'a/b'"
    type_into(qtbot, form.field("label").editor, "ok")
    values = form.check()
    assert values["label"] == "ok" and values["lookup"] == str(tmp_path / "table.csv")
    assert not form.field("label").error.isVisible()


def test_browse_fills_a_path(form: ParamsForm, qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chosen = tmp_path / "lookup table.csv"
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(chosen), ""))
    qtbot.mouseClick(form.field("lookup").browse, Qt.MouseButton.LeftButton)
    assert form.values()["lookup"] == str(chosen)


def test_values_from_the_command_line_are_converted(form: ParamsForm) -> None:
    form.set_values({"strip": "false", "size": "100", "quality": "0.5", "mode": "careful"})
    assert form.values() | {"lookup": None} == {"mode": "careful", "strip": False, "size": 100, "quality": 0.5,
                                                "label": "copy", "lookup": None}


def test_python_script_problems_show_next_to_the_script(window: MainWindow, qtbot: QtBot, tmp_path: Path) -> None:
    drop_paths(window.inputs.drop_area, [make_files(tmp_path / "in", 1)])
    type_into(qtbot, window.task.output_edit, str(tmp_path / "out"))
    choose_processor(qtbot, window, "python")
    script = window.task.form.field("script")
    type_into(qtbot, script.editor, str(tmp_path / "missing.py"))
    qtbot.mouseClick(window.task.start_button, Qt.MouseButton.LeftButton)
    assert script.error.isVisible()
    assert script.error.text() == f"script {tmp_path / 'missing.py'} does not exist or is not a file"
    assert window.task.message.text() == "Fix the value marked in red above."
    assert window.bridge.jobs.rowCount() == 0


def test_python_extra_parameters(window: MainWindow, qtbot: QtBot, tmp_path: Path) -> None:
    drop_paths(window.inputs.drop_area, [make_files(tmp_path / "in", 1)])
    type_into(qtbot, window.task.output_edit, str(tmp_path / "out"))
    choose_processor(qtbot, window, "python")
    type_into(qtbot, window.task.form.field("script").editor, str(SCRIPTS / "flaky.py"))
    extra = window.task.form.extra_edit
    assert extra is not None

    extra.setPlainText("fixed_flag=/tmp/x\noops")
    assert window.task.form.extra_error.text() == "line 2: write name=value (got 'oops')"
    extra.setPlainText("fixed_flag=/tmp/x\ncolour=red")
    assert not window.task.form.extra_error.isVisible()
    qtbot.mouseClick(window.task.start_button, Qt.MouseButton.LeftButton)
    assert "takes no parameter 'colour'" in window.task.form.extra_error.text()
    assert window.bridge.jobs.rowCount() == 0

    extra.setPlainText("fixed_flag=/tmp/x")
    values = window.task.form.check()
    assert values == {"script": str(SCRIPTS / "flaky.py"), "function": "process", "fixed_flag": "/tmp/x"}


def test_each_processor_keeps_its_own_parameters(window: MainWindow, qtbot: QtBot) -> None:
    choose_processor(qtbot, window, "checksum")
    algorithm = window.task.form.field("algorithm").editor
    assert isinstance(algorithm, QComboBox)
    algorithm.setCurrentText("md5")
    assert window.task.description.text().startswith("Hash every file")
    choose_processor(qtbot, window, "python")
    assert "your own Python function" in window.task.description.text()
    choose_processor(qtbot, window, "checksum")
    assert window.task.form.values() == {"algorithm": "md5"}


def test_labels_are_the_parameter_names_with_acronyms_spelt_out() -> None:
    from batchmill.gui.params_form import field_label

    assert [field_label(n) for n in ("max_size", "crs", "strip_metadata", "icc_profile")] == [
        "Max size", "CRS", "Strip metadata", "ICC profile"]
