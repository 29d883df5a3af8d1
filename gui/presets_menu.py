"""The Presets menu: save what the window shows as a named preset (the same JSON file that
``batchmill run --preset NAME`` reads), apply one to the form, delete one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QInputDialog, QLineEdit, QMenu, QMessageBox, QWidget

from batchmill.core.presets import Preset, PresetError, delete_preset, list_presets, load_preset, save_preset
from batchmill.core.processors import ParamError
from batchmill.core.spec import Overwrite
from batchmill.gui.inputs_panel import InputsPanel
from batchmill.gui.task_panel import SCRIPT_PARAMS, TaskPanel, job_processor

Notify = Callable[[str], None]


def preset_from_form(name: str, task: TaskPanel, inputs: InputsPanel) -> Preset:
    """The preset the form describes; raises FormError (shown in the form) if a value is bad."""
    values = task.form.check()
    template = task.names.check()
    processor, params = job_processor(task.current_processor(), values)
    return Preset(name=name, processor=processor, params=params, output=task.output() or None,
                  overwrite=task.overwrite().value, include=inputs.include(), exclude=inputs.exclude(),
                  recursive=inputs.recursive(), workers=task.workers(), timeout_s=task.timeout(),
                  retries=task.retries(), name_template=template,
                  provenance=task.provenance() if task.provenance() != "journal" else None)


def apply_preset(preset: Preset, task: TaskPanel, inputs: InputsPanel) -> list[str]:
    """Put a preset into the form; returns problems for the operator (the rest is applied)."""
    problems: list[str] = []
    params = dict(preset.params)
    if preset.processor == "python" and params.get("script"):
        try:  # shown as the script's own processor, with its generated form
            task.load_script(Path(str(params["script"])), str(params.get("function") or "process"))
            params = {k: v for k, v in params.items() if k not in SCRIPT_PARAMS}
        except ParamError as exc:
            problems.append(str(exc))
            task.set_processor("python")
    elif not task.set_processor(preset.processor):
        problems.append(f"preset {preset.name!r} uses the processor {preset.processor!r}, which is not installed")
    task.form.set_values(params)
    if preset.output:
        task.set_output(preset.output)
    if preset.overwrite:
        task.set_overwrite(Overwrite(preset.overwrite))
    if preset.workers:
        task.workers_spin.setValue(preset.workers)
    task.set_timeout(preset.timeout_s)
    task.retries_spin.setValue(preset.retries or 0)
    task.names.set_template(preset.name_template)
    task.set_provenance(preset.provenance or "journal")
    inputs.set_patterns(preset.include, preset.exclude, preset.recursive)
    return problems


class PresetsMenu(QMenu):
    def __init__(self, task: TaskPanel, inputs: InputsPanel, home: Path, notify: Notify,
                 parent: QWidget | None = None) -> None:
        super().__init__("&Presets", parent)
        self.task, self.inputs, self.home, self.notify = task, inputs, home, notify
        self.name_dialog: QInputDialog | None = None
        self.confirm_box: QMessageBox | None = None
        self.save_action = QAction("&Save as preset…", self)
        self.save_action.setToolTip("Save the processor, its parameters and the output options under a name")
        self.save_action.triggered.connect(self.ask_name)
        self.delete_menu = QMenu("&Delete preset", self)
        self._made: list[QAction] = []  # one apply and one delete entry per preset
        self.aboutToShow.connect(self.rebuild)
        self.rebuild()

    def rebuild(self) -> None:
        """One entry per saved preset (they may also come from ``batchmill run --save-preset``)."""
        for action in self.actions():  # not clear(): that would delete the fixed actions too
            self.removeAction(action)
        for action in self._made:
            action.deleteLater()
        self._made = []
        self.delete_menu.clear()
        self.addAction(self.save_action)
        self.addSeparator()
        names = list_presets(self.home)
        if not names:
            empty = self._make("No presets saved yet", self)
            empty.setEnabled(False)
        for name in names:
            self._make(name, self).triggered.connect(lambda _checked=False, n=name: self.apply(n))
            self._make(name, self.delete_menu).triggered.connect(lambda _checked=False, n=name: self.ask_delete(n))
        self.addSeparator()
        self.addMenu(self.delete_menu)
        self.delete_menu.setEnabled(bool(names))

    def _make(self, text: str, menu: QMenu) -> QAction:
        action = QAction(text, self)
        menu.addAction(action)
        self._made.append(action)
        return action

    def entries(self) -> list[str]:
        """The presets the menu offers to apply."""
        return [a.text() for a in self.actions() if a.isEnabled() and not a.isSeparator()
                and a is not self.save_action and a.menu() is None]

    # -- saving ---------------------------------------------------------------------
    def ask_name(self) -> QInputDialog:
        dialog = QInputDialog(self.parentWidget())
        dialog.setWindowTitle("Save as preset")
        dialog.setLabelText("Name of the preset (letters, digits, spaces and . + - _):\n"
                            "use it here, or with  batchmill run --preset NAME")
        dialog.setTextEchoMode(QLineEdit.EchoMode.Normal)
        dialog.setTextValue(self.task.current_processor().name)
        dialog.accepted.connect(lambda: self.save(dialog.textValue().strip()))
        self.name_dialog = dialog
        dialog.open()
        return dialog

    def save(self, name: str, replace: bool = False) -> bool:
        if not replace and name in list_presets(self.home):
            self._confirm(f"Replace the preset “{name}”?", "Replace", lambda: self.save(name, replace=True))
            return False
        try:
            preset = preset_from_form(name, self.task, self.inputs)
            save_preset(preset, self.home)
        except (PresetError, ValueError) as exc:  # FormError is a ValueError, already marked in the form
            self.notify(f"The preset was not saved: {exc}")
            return False
        self.rebuild()
        self.notify(f"Saved the preset “{name}”")
        return True

    # -- applying and deleting -------------------------------------------------------------
    def apply(self, name: str) -> bool:
        try:
            preset = load_preset(name, self.home)
        except PresetError as exc:
            self.notify(str(exc))
            return False
        problems = apply_preset(preset, self.task, self.inputs)
        self.notify(f"Applied the preset “{name}”" + (f", but {'; '.join(problems)}" if problems else ""))
        return not problems

    def ask_delete(self, name: str) -> QMessageBox:
        return self._confirm(f"Delete the preset “{name}”?", "Delete", lambda: self.delete(name))

    def delete(self, name: str) -> None:
        try:
            delete_preset(name, self.home)
        except PresetError as exc:
            self.notify(str(exc))
            return
        self.rebuild()
        self.notify(f"Deleted the preset “{name}”")

    def _confirm(self, question: str, verb: str, then: Callable[[], object]) -> QMessageBox:
        box = QMessageBox(self.parentWidget())
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Presets")
        box.setText(question)
        yes = box.addButton(verb, QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.finished.connect(lambda _result: then() if box.clickedButton() is yes else None)
        self.confirm_box = box
        box.open()
        return box
