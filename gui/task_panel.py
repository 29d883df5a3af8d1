"""What to do: the processor and its parameters, where outputs go, the overwrite policy,
the worker count, and the Start button."""

from __future__ import annotations

import os
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QFrame, QHBoxLayout, QLabel, QLineEdit, QPushButton,
    QScrollArea, QSpinBox, QVBoxLayout, QWidget,
)

from core.processors import Processor
from core.spec import JobSpec, Overwrite, default_workers
from gui.params_form import ERROR_STYLE, FormError, ParamsForm
from gui.resources import icon

OVERWRITE_LABELS = {
    Overwrite.SKIP: "Skip files whose output exists",
    Overwrite.REPLACE: "Replace existing outputs",
    Overwrite.RENAME: "Keep both (new output gets a free name)",
}
MAX_WORKERS = 256


class TaskPanel(QWidget):
    start_requested = Signal()
    processor_changed = Signal(str)
    workers_changed = Signal(int)
    output_changed = Signal(str)

    def __init__(self, processors: dict[str, Processor], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.processors = processors
        self.saved_params: dict[str, dict[str, Any]] = {}

        self.processor_combo = QComboBox()
        for name, processor in processors.items():
            self.processor_combo.addItem(name, name)
            self.processor_combo.setItemData(self.processor_combo.count() - 1, processor.description,
                                             Qt.ItemDataRole.ToolTipRole)
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.description.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.description.setStyleSheet("color: palette(placeholder-text);")
        self.form = ParamsForm()
        # The description scrolls with the form: in a small window it is cut short, never clipped.
        content = QWidget()
        content.setAutoFillBackground(False)
        content_layout = QVBoxLayout(content)
        content_layout.setContentsMargins(0, 0, 0, 0)
        content_layout.addWidget(self.description)
        content_layout.addWidget(self.form)
        content_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(content)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.viewport().setAutoFillBackground(False)  # one background with the rest of the group
        self.form_scroll = scroll

        self.output_edit = QLineEdit()
        self.output_edit.setPlaceholderText("where outputs go (a folder)")
        self.output_edit.editingFinished.connect(lambda: self.output_changed.emit(self.output()))
        self.output_button = QPushButton("Browse…")
        self.output_button.clicked.connect(self.choose_output)
        self.overwrite_combo = QComboBox()
        for policy, label in OVERWRITE_LABELS.items():
            self.overwrite_combo.addItem(label, policy.value)
        self.workers_spin = QSpinBox()
        self.workers_spin.setRange(1, MAX_WORKERS)
        self.workers_spin.setValue(default_workers())
        self.workers_spin.setToolTip(f"Worker processes (this computer has {os.cpu_count() or 1} cores); "
                                     "a change applies to the running job too")
        self.workers_spin.valueChanged.connect(self.workers_changed)
        self.timeout_spin = QDoubleSpinBox()
        self.timeout_spin.setRange(0, 7 * 24 * 3600)
        self.timeout_spin.setDecimals(1)
        self.timeout_spin.setSpecialValueText("none")
        self.timeout_spin.setSuffix(" s")
        self.timeout_spin.setToolTip("A file that runs longer than this fails, and its worker is restarted")
        self.start_button = QPushButton(icon("start"), "Start")
        self.start_button.setDefault(True)
        self.start_button.setMinimumHeight(32)
        self.start_button.setToolTip("Queue a job with these inputs and settings; jobs run one after another")
        self.start_button.clicked.connect(self.start_requested)
        self.message = QLabel()
        self.message.setStyleSheet(ERROR_STYLE)
        self.message.setWordWrap(True)
        self.message.hide()

        top = QFormLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addRow("Processor:", self.processor_combo)
        output_row = QHBoxLayout()
        output_row.addWidget(self.output_edit, 1)
        output_row.addWidget(self.output_button)
        bottom = QFormLayout()
        bottom.setContentsMargins(0, 0, 0, 0)
        bottom.addRow("Output folder:", output_row)
        bottom.addRow("If output exists:", self.overwrite_combo)
        numbers = QHBoxLayout()
        numbers.addWidget(self.workers_spin)
        numbers.addSpacing(12)
        numbers.addWidget(QLabel("Timeout per file:"))
        numbers.addWidget(self.timeout_spin)
        numbers.addStretch(1)
        bottom.addRow("Workers:", numbers)
        start_row = QHBoxLayout()
        start_row.addWidget(self.message, 1)
        start_row.addWidget(self.start_button, 0, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(scroll, 1)
        layout.addLayout(bottom)
        layout.addLayout(start_row)

        self.forms = (top, self.form.layout_, bottom)
        self.processor_combo.currentIndexChanged.connect(self._on_processor_index)
        self._current: str | None = None
        self._on_processor_index()

    # -- processor -----------------------------------------------------------------
    def processor_name(self) -> str:
        return str(self.processor_combo.currentData())

    def set_processor(self, name: str) -> bool:
        index = self.processor_combo.findData(name)
        if index < 0:
            return False
        self.processor_combo.setCurrentIndex(index)
        return True

    def restore(self, processor: str, params: dict[str, dict[str, Any]]) -> None:
        """Select the last processor and give every processor its last parameters."""
        if processor:
            self.set_processor(processor)
        self.saved_params = dict(params)
        self.form.set_values(self.saved_params.get(self.processor_name(), {}))

    def _on_processor_index(self) -> None:
        if self._current is not None and self.form.processor is not None:
            self.saved_params[self._current] = self.form.values()
        name = self.processor_name()
        processor = self.processors[name]
        self._current = name
        self.description.setText(processor.description)
        self.form.set_processor(processor, self.saved_params.get(name))
        self.align_labels()
        self.message.hide()
        self.processor_changed.emit(name)

    def align_labels(self) -> None:
        """The three forms (processor, its parameters, output) share one label column."""
        labels = [label for form in self.forms for row in range(form.rowCount())
                  if (item := form.itemAt(row, QFormLayout.ItemRole.LabelRole)) is not None
                  and isinstance(label := item.widget(), QLabel)]
        width = max((label.sizeHint().width() for label in labels), default=0)
        for label in labels:
            label.setMinimumWidth(width)

    # -- output and numbers -------------------------------------------------------------
    def output(self) -> str:
        return self.output_edit.text().strip()

    def set_output(self, path: str) -> None:
        self.output_edit.setText(path)
        self.output_changed.emit(self.output())

    def choose_output(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose the output folder", self.output())
        if folder:
            self.set_output(folder)

    def overwrite(self) -> Overwrite:
        return Overwrite(self.overwrite_combo.currentData())

    def set_overwrite(self, policy: Overwrite) -> None:
        self.overwrite_combo.setCurrentIndex(self.overwrite_combo.findData(policy.value))

    def workers(self) -> int:
        return self.workers_spin.value()

    def timeout(self) -> float | None:
        value = self.timeout_spin.value()
        return value if value > 0 else None

    # -- the job ----------------------------------------------------------------------------
    def build_spec(self, inputs: tuple[str, ...], include: tuple[str, ...], exclude: tuple[str, ...],
                   recursive: bool) -> JobSpec:
        """The JobSpec these settings describe; raises FormError (already shown) if something is missing."""
        self.message.hide()
        if not inputs:
            raise self.fail("Add at least one folder or file to work on (drop it on the list).")
        if not self.output():
            raise self.fail("Choose an output folder.")
        params = self.form.check()
        return JobSpec(processor=self.processor_name(), inputs=inputs, output=self.output(), params=params,
                       include=include, exclude=exclude, recursive=recursive, overwrite=self.overwrite(),
                       workers=self.workers(), timeout_s=self.timeout())

    def fail(self, message: str) -> FormError:
        self.show_message(message)
        return FormError(message)

    def show_message(self, message: str) -> None:
        self.message.setText(message)
        self.message.show()

    def all_params(self) -> dict[str, dict[str, Any]]:
        """Every processor's last parameters (the current one's as now shown)."""
        saved = dict(self.saved_params)
        saved[self.processor_name()] = self.form.values()
        return saved
