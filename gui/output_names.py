"""The "Output names" field: a naming template such as ``{stem}_small{ext}``, checked as it is
typed, with a live preview of the name the first input's first file would get."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QSizePolicy, QWidget

from batchmill.core.naming import PLACEHOLDERS, TemplateError, check_template
from batchmill.core.plan import preview_output
from batchmill.core.processors import Processor
from batchmill.core.spec import JobSpec
from batchmill.gui.params_form import ERROR_STYLE, FormError

EXAMPLE_INPUT = "photo.jpg"  # what the preview shows before any input is added
HINT_STYLE = "color: palette(placeholder-text);"
TOOLTIP = ("How outputs are named. {stem}: the input's name without its extension; {ext}: the output's "
           "extension; {name}: the input's full name. Empty: outputs keep the inputs' names.")


def template_problem(template: str | None) -> str | None:
    """What is wrong with a template, for a person; None if it can name files (or is empty)."""
    if template is None:
        return None
    try:
        check_template(template)
    except TemplateError as exc:
        message = str(exc)
        return message[:1].upper() + message[1:]
    return None


def describe_preview(processor: Processor, params: Mapping[str, Any] | None, template: str | None,
                     sample: str | None, waiting: bool) -> str:
    """The preview line: ``IMG_0001.tif → IMG_0001_small.png``, or why there is none."""
    if waiting:
        return "looking for the first input's first file…"
    name = sample or EXAMPLE_INPUT
    prefix = "" if sample else "e.g. "
    if params is None:
        return f"{prefix}{name} → ? (fix the parameters above to see its output name)"
    spec = JobSpec(processor.name, (), ".", name_template=template)
    output = preview_output(spec, processor, params, name)
    if output is None:
        return f"{processor.name} writes no output per file, so there is nothing to name"
    return f"{prefix}{name} → {output}"


class OutputNamesField(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.edit = QLineEdit()
        self.edit.setPlaceholderText("keep the input names   (e.g. {stem}_small{ext})")
        self.edit.setToolTip(TOOLTIP)
        self.preview = QLabel()
        self.preview.setTextFormat(Qt.TextFormat.PlainText)
        self.preview.setWordWrap(True)
        self.preview.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # A long file name wraps inside the row instead of widening the whole panel.
        self.preview.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.preview.setToolTip(f"Placeholders: {', '.join(PLACEHOLDERS)}")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit, 2)
        layout.addWidget(self.preview, 3)
        self._processor: Processor | None = None
        self._params: Mapping[str, Any] | None = None
        self._sample: str | None = None
        self._waiting = False
        self.edit.textChanged.connect(self._on_text)

    # -- the template -------------------------------------------------------
    def template(self) -> str | None:
        """The template as typed; None when the field is empty (outputs keep their names)."""
        text = self.edit.text().strip()
        return text or None

    def set_template(self, template: str | None) -> None:
        self.edit.setText(template or "")

    def check(self) -> str | None:
        """The template for the JobSpec; raises FormError (shown next to the field) if it is bad."""
        problem = template_problem(self.template())
        self.refresh()
        if problem:
            raise FormError(problem)
        return self.template()

    # -- the preview ----------------------------------------------------------
    def set_context(self, processor: Processor, params: Mapping[str, Any] | None) -> None:
        """The processor and its checked parameters (None: they do not check) that name outputs."""
        self._processor, self._params = processor, params
        self.refresh()

    def set_sample(self, name: str | None, waiting: bool) -> None:
        self._sample, self._waiting = name, waiting
        self.refresh()

    def refresh(self) -> None:
        problem = template_problem(self.template())
        self.edit.setStyleSheet("border: 1px solid #b3261e;" if problem else "")
        if problem:
            self.preview.setStyleSheet(ERROR_STYLE)
            self.preview.setText(problem)
        elif self._processor is not None:
            self.preview.setStyleSheet(HINT_STYLE)
            self.preview.setText(describe_preview(self._processor, self._params, self.template(), self._sample,
                                                  self._waiting))

    def _on_text(self) -> None:
        self.refresh()
        self.changed.emit()
