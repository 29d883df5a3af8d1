"""The parameter form, generated from a processor's declared parameters.

The right widget per type (choices → combo box, bool → check box, int/float →
spin boxes, Path → line edit with Browse…, str → line edit), defaults filled
in, help as tooltips, and a validation message right under a bad value. The
``python`` processor also takes extra ``key=value`` lines, passed on to the
operator's function.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit,
    QPushButton, QSpinBox, QVBoxLayout, QWidget,
)

from batchmill.core.processors import Param, ParamError, Processor

TAKES_EXTRA_PARAMS = frozenset({"python"})
INT_LIMIT = 2**31 - 1
FLOAT_LIMIT = 1e12
ERROR_STYLE = "color: #b3261e;"


ACRONYMS = {"crs": "CRS", "icc": "ICC", "dpi": "DPI", "exif": "EXIF", "cog": "COG", "gdal": "GDAL"}


def field_label(name: str) -> str:
    """``max_size`` -> ``Max size``; ``crs`` -> ``CRS``."""
    words = [ACRONYMS.get(word, word) for word in name.replace("_", " ").split()]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


class FormError(ValueError):
    """The form holds a value that cannot be used; shown next to it already."""


class ParamField(QWidget):
    """One parameter: its editor and the message under it."""

    changed = Signal()

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.param = param
        self.editor = self._make_editor()
        self.error = QLabel()
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.setWordWrap(True)
        self.error.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        if isinstance(self.editor, QLineEdit) and param.type is Path:
            row = QHBoxLayout()
            row.addWidget(self.editor, 1)
            self.browse = QPushButton("Browse…")
            self.browse.clicked.connect(self.choose_path)
            row.addWidget(self.browse)
            layout.addLayout(row)
        else:
            layout.addWidget(self.editor)
        layout.addWidget(self.error)
        tip = param.help + (" (required)" if param.required else "")
        self.editor.setToolTip(tip)
        self.set_value(param.default)

    def _make_editor(self) -> QWidget:
        param = self.param
        if param.choices:
            combo = QComboBox()
            combo.addItems(list(param.choices))
            combo.currentTextChanged.connect(self._on_change)
            return combo
        if param.type is bool:
            check = QCheckBox()
            check.toggled.connect(self._on_change)
            return check
        if param.type is int:
            spin = QSpinBox()
            spin.setRange(int(param.minimum if param.minimum is not None else -INT_LIMIT),
                          int(param.maximum if param.maximum is not None else INT_LIMIT))
            spin.valueChanged.connect(self._on_change)
            return spin
        if param.type is float:
            dspin = QDoubleSpinBox()
            dspin.setDecimals(3)
            dspin.setRange(param.minimum if param.minimum is not None else -FLOAT_LIMIT,
                           param.maximum if param.maximum is not None else FLOAT_LIMIT)
            dspin.valueChanged.connect(self._on_change)
            return dspin
        line = QLineEdit()
        line.setPlaceholderText("required" if param.required else "")
        line.textChanged.connect(self._on_change)
        return line

    # -- value ----------------------------------------------------------------
    def value(self) -> Any:
        """The raw value for the JobSpec (JSON-able); None means "not given"."""
        editor = self.editor
        if isinstance(editor, QComboBox):
            return editor.currentText()
        if isinstance(editor, QCheckBox):
            return editor.isChecked()
        if isinstance(editor, (QSpinBox, QDoubleSpinBox)):
            return editor.value()
        assert isinstance(editor, QLineEdit)
        text = editor.text().strip() if self.param.type is Path else editor.text()
        return text if text or (self.param.type is str and self.param.default is not None) else None

    def set_value(self, value: Any) -> None:
        editor = self.editor
        try:
            if isinstance(value, str) and self.param.type in (bool, int, float):
                value = self.param.convert(value)  # from the command line or a hand-edited INI
            if isinstance(editor, QComboBox):
                if value is not None and str(value) in self.param.choices:
                    editor.setCurrentText(str(value))
            elif isinstance(editor, QCheckBox):
                editor.setChecked(bool(value))
            elif isinstance(editor, QSpinBox):
                editor.setValue(int(value) if value is not None else max(0, editor.minimum()))
            elif isinstance(editor, QDoubleSpinBox):
                editor.setValue(float(value) if value is not None else max(0.0, editor.minimum()))
            elif isinstance(editor, QLineEdit):
                editor.setText("" if value is None else str(value))
        except (TypeError, ValueError):
            pass  # a stale or unreadable value (ParamError too): keep the default

    # -- checking ---------------------------------------------------------------
    def validate(self) -> str | None:
        """Check this value alone (type, choices, range); shows and returns the message."""
        raw = self.value()
        message = None
        if raw is None:
            if self.param.required:
                message = f"{self.param.name} is required" + (f": {self.param.help}" if self.param.help else "")
        else:
            try:
                self.param.convert(raw)
            except ParamError as exc:
                message = str(exc)
        self.show_error(message)
        return message

    def show_error(self, message: str | None) -> None:
        self.error.setText(message or "")
        self.error.setVisible(bool(message))
        self.editor.setStyleSheet("border: 1px solid #b3261e;" if message and isinstance(self.editor, QLineEdit)
                                  else "")

    def choose_path(self) -> None:
        wants_python = self.param.name == "script"
        chosen, _ = QFileDialog.getOpenFileName(
            self, f"Choose {self.param.name}", self.value() or "",
            "Python files (*.py);;All files (*)" if wants_python else "All files (*)")
        if chosen:
            assert isinstance(self.editor, QLineEdit)
            self.editor.setText(chosen)

    def _on_change(self, *_args: object) -> None:
        self.validate()
        self.changed.emit()


class ParamsForm(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.processor: Processor | None = None
        self.fields: dict[str, ParamField] = {}
        self.layout_ = QFormLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.extra_edit: QPlainTextEdit | None = None
        self.extra_error = QLabel()
        self.general_error = QLabel()
        for label in (self.extra_error, self.general_error):
            label.setStyleSheet(ERROR_STYLE)
            label.setWordWrap(True)

    def set_processor(self, processor: Processor, values: dict[str, Any] | None = None) -> None:
        self.processor = processor
        while self.layout_.rowCount():
            self.layout_.removeRow(0)
        self.fields = {}
        self.extra_edit = None
        self.extra_error = QLabel()
        self.general_error = QLabel()
        for label in (self.extra_error, self.general_error):
            label.setStyleSheet(ERROR_STYLE)
            label.setWordWrap(True)
            label.hide()
        for param in processor.params:
            field = ParamField(param, self)
            field.changed.connect(self.changed)
            label = QLabel(field_label(param.name) + ":")
            label.setToolTip(param.help)
            self.layout_.addRow(label, field)
            self.fields[param.name] = field
        if processor.name in TAKES_EXTRA_PARAMS:
            self.extra_edit = QPlainTextEdit()
            self.extra_edit.setPlaceholderText("name=value, one per line\n(passed to your function as keyword "
                                               "arguments)")
            self.extra_edit.setToolTip("Extra parameters for your function, one name=value per line; converted "
                                       "by the function's type hints")
            self.extra_edit.setFixedHeight(self.extra_edit.fontMetrics().lineSpacing() * 3 + 12)
            self.extra_edit.textChanged.connect(self._on_extra_changed)
            extra = QWidget(self)
            box = QVBoxLayout(extra)
            box.setContentsMargins(0, 0, 0, 0)
            box.setSpacing(2)
            box.addWidget(self.extra_edit)
            box.addWidget(self.extra_error)
            self.layout_.addRow("Extra parameters:", extra)
        if not processor.params and processor.name not in TAKES_EXTRA_PARAMS:
            self.layout_.addRow(QLabel("This processor has no parameters."))
        self.layout_.addRow(self.general_error)
        if values:
            self.set_values(values)

    # -- values -----------------------------------------------------------------
    def values(self) -> dict[str, Any]:
        """The parameters as given (JSON-able), without converting; ignores lines that do not parse."""
        values = {name: field.value() for name, field in self.fields.items() if field.value() is not None}
        extras, _ = self._parse_extras()
        values.update(extras)
        return values

    def set_values(self, values: dict[str, Any]) -> None:
        extras = []
        for name, value in values.items():
            if name in self.fields:
                self.fields[name].set_value(value)
            elif self.extra_edit is not None:
                extras.append(f"{name}={value}")
        if self.extra_edit is not None:
            self.extra_edit.setPlainText("\n".join(extras))
        for field in self.fields.values():
            field.show_error(None)

    def field(self, name: str) -> ParamField:
        return self.fields[name]

    # -- checking -----------------------------------------------------------------
    def check(self) -> dict[str, Any]:
        """Validate everything with the processor itself; returns the raw values for the JobSpec.

        Raises FormError after showing each message next to the value it is about."""
        assert self.processor is not None
        self.general_error.hide()
        problems = [message for field in self.fields.values() if (message := field.validate())]
        extras, extra_problem = self._parse_extras()
        self._show_extra_error(extra_problem)
        if problems or extra_problem:
            raise FormError(problems[0] if problems else extra_problem)
        values = self.values()
        try:
            self.processor.validate(values)
        except ParamError as exc:
            self._place_error(str(exc), set(extras))
            raise FormError(str(exc)) from None
        return values

    def _place_error(self, message: str, extra_names: set[str]) -> None:
        """Show a processor's message next to the parameter it names."""
        if self.extra_edit is not None and (any(f"'{name}'" in message for name in extra_names)
                                            or "--param" in message):
            self._show_extra_error(message.replace("--param ", ""))
            return
        for name, field in self.fields.items():
            if f"'{name}'" in message:
                field.show_error(message)
                return
        for name, field in self.fields.items():
            if message.startswith(f"{name} "):
                field.show_error(message)
                return
        self.general_error.setText(message)
        self.general_error.show()

    def _parse_extras(self) -> tuple[dict[str, str], str | None]:
        if self.extra_edit is None:
            return {}, None
        extras: dict[str, str] = {}
        for number, line in enumerate(self.extra_edit.toPlainText().splitlines(), 1):
            if not line.strip():
                continue
            key, sep, value = line.partition("=")
            key = key.strip()
            if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
                return extras, f"line {number}: write name=value (got {line.strip()!r})"
            if key in self.fields:
                return extras, f"line {number}: {key} has its own field above"
            extras[key] = value.strip()
        return extras, None

    def _on_extra_changed(self) -> None:
        self._show_extra_error(self._parse_extras()[1])
        self.changed.emit()

    def _show_extra_error(self, message: str | None) -> None:
        self.extra_error.setText(message or "")
        self.extra_error.setVisible(bool(message))
