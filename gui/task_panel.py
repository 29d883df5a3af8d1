"""What to do: the processor and its parameters (a loaded script's function is one too), where
outputs go and how they are named, the overwrite policy, workers, timeout and retries, where the
job runs (this computer or Dask), and the Start button."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QFrame, QHBoxLayout, QLabel, QLineEdit, QPushButton,
    QScrollArea, QSpinBox, QVBoxLayout, QWidget,
)

from batchmill.core.processors import ParamError, Processor
from batchmill.core.processors.script import ScriptProcessor, load_script_processor
from batchmill.core.sidecar import SIDECAR_SUFFIX
from batchmill.core.spec import JobSpec, Overwrite, default_workers
from batchmill.gui.backend_field import BackendField
from batchmill.gui.output_names import OutputNamesField
from batchmill.gui.params_form import ERROR_STYLE, FormError, ParamsForm
from batchmill.gui.resources import icon

OVERWRITE_LABELS = {  # the first is the default
    Overwrite.CHANGED: "Redo only what changed",
    Overwrite.SKIP: "Skip files whose output exists",
    Overwrite.REPLACE: "Replace existing outputs",
    Overwrite.RENAME: "Keep both (new output gets a free name)",
}
MAX_WORKERS = 256
MAX_RETRIES = 100
MAX_TIMEOUT_S = 24 * 3600  # a file taking longer than a day: "none" says it better
SCRIPT_PARAMS = ("script", "function")  # what the python processor needs besides the function's own


def job_processor(processor: Processor, values: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The JobSpec's processor name and parameters: a loaded script runs as the ``python`` processor."""
    if isinstance(processor, ScriptProcessor):
        return processor.processor_name, processor.spec_params(values)
    return processor.name, dict(values)


def names_depend_on_params(processor: Processor) -> bool:
    """Only a processor with its own output_name can name outputs after its parameters."""
    return type(processor).output_name is not Processor.output_name


class TaskPanel(QWidget):
    start_requested = Signal()
    preview_requested = Signal()  # what Start would do to every file (batchmill.gui.preview_dialog)
    processor_changed = Signal(str)
    workers_changed = Signal(int)
    output_changed = Signal(str)

    def __init__(self, processors: dict[str, Processor], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.processors = dict(processors)
        self.saved_params: dict[str, dict[str, Any]] = {}
        self._checked: tuple[str, str, dict[str, Any] | None] | None = None  # preview's cached validate()

        self.processor_combo = QComboBox()
        self.processor_combo.setToolTip("What to do with every file. Drop a .py file on the window (or use "
                                        "File → Load script…) to add your own function")
        for processor in processors.values():
            self._add_item(processor)
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
        scroll.setMinimumHeight(40)  # a small screen keeps one row of parameters in view, and scrolls
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
        self.timeout_spin.setRange(0, MAX_TIMEOUT_S)
        self.timeout_spin.setDecimals(1)
        self.timeout_spin.setSpecialValueText("none")
        self.timeout_spin.setSuffix(" s")
        self.timeout_spin.setToolTip("Per file: a file that runs longer than this fails, and its worker is "
                                     "restarted")
        self.retries_spin = QSpinBox()
        self.retries_spin.setRange(0, MAX_RETRIES)
        self.retries_spin.setSpecialValueText("no retries")
        self.retries_spin.setToolTip("How many more times a failed file is tried before it counts as failed")
        self.retries_spin.valueChanged.connect(
            lambda n: self.retries_spin.setSuffix(" retry" if n == 1 else " retries"))
        self.retries_spin.setSuffix(" retries")
        self.names = OutputNamesField()
        self.sidecar_check = QCheckBox("Sidecar file per output")
        self.sidecar_check.setToolTip(f"Besides the journal, write what made each output — input, processor, "
                                      f"version, parameters, code, Batchmill version, host, time — to a small JSON "
                                      f"file beside it, named after it plus {SIDECAR_SUFFIX} (a checksum manifest "
                                      f"gets one too). Batchmill never takes a sidecar for an input")
        self.backend = BackendField()
        self.backend.changed.connect(self._on_backend)
        self.start_button = QPushButton(icon("start"), "Start")
        self.start_button.setDefault(True)
        self.start_button.setToolTip("Queue a job with these inputs and settings; jobs run one after another")
        self.start_button.clicked.connect(self.start_requested)
        self.preview_button = QPushButton("Preview…")
        self.preview_button.setToolTip("What Start would do to every file: new, up to date, collisions…; "
                                       "nothing runs")
        self.preview_button.clicked.connect(self.preview_requested)
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
        bottom.addRow("Output names:", self.names)
        # The longest policy's words would widen the window's minimum by the Preview button beside it.
        self.overwrite_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.overwrite_combo.setMinimumContentsLength(16)
        overwrite_row = QHBoxLayout()
        overwrite_row.addWidget(self.overwrite_combo, 1)
        overwrite_row.addWidget(self.preview_button)  # what the policy would do, file by file
        bottom.addRow("If output exists:", overwrite_row)
        bottom.addRow("Provenance:", self.sidecar_check)
        workers_row = QHBoxLayout()
        workers_row.addWidget(self.workers_spin)
        workers_row.addSpacing(12)
        workers_row.addWidget(QLabel("Run on:"))
        workers_row.addWidget(self.backend, 1)
        bottom.addRow("Workers:", workers_row)
        per_file = QHBoxLayout()
        per_file.addWidget(self.timeout_spin)
        per_file.addSpacing(8)
        per_file.addWidget(self.retries_spin)  # "no retries", "1 retry", "2 retries": no label needed
        per_file.addStretch(1)
        per_file.addWidget(self.start_button)  # on the last row: the parameters get the height
        bottom.addRow("Timeout:", per_file)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(scroll, 1)
        layout.addLayout(bottom)
        layout.addWidget(self.message)

        self.forms = (top, self.form.layout_, bottom)
        self.processor_combo.currentIndexChanged.connect(self._on_processor_index)
        self.form.changed.connect(self.update_preview)
        self._current: str | None = None
        self._on_processor_index()

    # -- processor -----------------------------------------------------------------
    def processor_name(self) -> str:
        return str(self.processor_combo.currentData())

    def current_processor(self) -> Processor:
        return self.processors[self.processor_name()]

    def add_processor(self, processor: Processor, select: bool = True) -> None:
        """Add a processor to the picker (a loaded script); one of the same name is replaced, so
        loading an edited script again picks up its new parameters."""
        replaced = processor.name in self.processors
        self.processors[processor.name] = processor
        self._add_item(processor)
        if replaced and processor.name == self.processor_name():
            self._show_processor(keep_values=True)
        elif select:
            self.set_processor(processor.name)

    def load_script(self, script: Path, function: str = "process", select: bool = True) -> ScriptProcessor:
        """A script's function as a processor in the picker; raises ParamError saying what is wrong."""
        processor = load_script_processor(script, function)
        self.add_processor(processor, select)
        return processor

    def scripts(self) -> list[tuple[str, str]]:
        """``(script, function)`` of every loaded script processor (the window remembers them)."""
        return [(str(p.script), p.function) for p in self.processors.values() if isinstance(p, ScriptProcessor)]

    def _add_item(self, processor: Processor) -> None:
        index = self.processor_combo.findData(processor.name)
        if index < 0:
            self.processor_combo.addItem(processor.name, processor.name)
            index = self.processor_combo.count() - 1
        tip = processor.description
        if isinstance(processor, ScriptProcessor):
            self.processor_combo.setItemText(index, f"{processor.name}   (your script)")
            tip = f"{tip}\n{processor.script}"
        self.processor_combo.setItemData(index, tip, Qt.ItemDataRole.ToolTipRole)

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
        self._show_processor(keep_values=False)

    def _show_processor(self, keep_values: bool) -> None:
        name = self.processor_name()
        processor = self.processors[name]
        values = self.form.values() if keep_values else self.saved_params.get(name)
        self._current = name
        description = processor.description
        if isinstance(processor, ScriptProcessor):
            description += f"\nFrom {processor.script}, function {processor.function}()"
        self.description.setText(description)
        self.form.set_processor(processor, values)
        self.align_labels()
        self.message.hide()
        self.update_preview()
        self.processor_changed.emit(name)

    def _on_backend(self) -> None:
        # A scheduler's operator sizes that cluster; the count applies to this computer or a cluster started here.
        self.workers_spin.setEnabled(self.backend.scheduler() is None)

    # -- output names ----------------------------------------------------------------
    def name_template(self) -> str | None:
        return self.names.template()

    def set_sample(self, name: str | None, waiting: bool) -> None:
        """The first input's first file, whose output name the preview shows."""
        self.names.set_sample(name, waiting)

    def update_preview(self) -> None:
        processor = self.current_processor()
        self.names.set_context(processor, self._preview_params(processor))

    def _preview_params(self, processor: Processor) -> dict[str, Any] | None:
        """The processor's checked parameters, for naming; None if they do not check. Cached, as the
        form changes on every key press and a processor's validate() may be slow."""
        if not names_depend_on_params(processor):
            return {}
        values = self.form.values()
        key = json.dumps(values, sort_keys=True, default=str)
        if self._checked is None or self._checked[:2] != (processor.name, key):
            try:
                checked: dict[str, Any] | None = processor.validate(values)
            except (ParamError, TypeError, ValueError):
                checked = None
            self._checked = (processor.name, key, checked)
        return self._checked[2]

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

    def provenance(self) -> str:
        """Where what made each output is kept (JobSpec.provenance): the journal, or a sidecar too."""
        return "sidecar" if self.sidecar_check.isChecked() else "journal"

    def set_provenance(self, mode: str) -> None:
        self.sidecar_check.setChecked(mode == "sidecar")

    def workers(self) -> int:
        return self.workers_spin.value()

    def timeout(self) -> float | None:
        value = self.timeout_spin.value()
        return value if value > 0 else None

    def set_timeout(self, seconds: float | None) -> None:
        self.timeout_spin.setValue(seconds or 0)

    def retries(self) -> int:
        return self.retries_spin.value()

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
        try:
            template = self.names.check()
        except FormError as exc:
            raise self.fail(str(exc)) from None
        processor = self.current_processor()
        name, job_params = job_processor(processor, params)
        spec = JobSpec(processor=name, inputs=inputs, output=self.output(), params=job_params, include=include,
                       exclude=exclude, recursive=recursive, overwrite=self.overwrite(), workers=self.workers(),
                       timeout_s=self.timeout(), retries=self.retries(), name_template=template,
                       backend=self.backend.backend(), scheduler=self.backend.scheduler(),
                       provenance=self.provenance())
        if name != processor.name:  # the job is named after the script's function, not "python"
            spec = spec.with_changes(name=processor.name + spec.name[len(name):])
        return spec

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
