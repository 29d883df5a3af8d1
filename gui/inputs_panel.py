"""Inputs: a drop area for folders and files from any file manager, Add folder…/Add files…,
each input's file count (counted in the background), include/exclude patterns. A dropped
``.py`` file is not an input: it is handed on as a script to load as a processor."""

from __future__ import annotations

import os
import re
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QAbstractItemView, QCheckBox, QFileDialog, QFormLayout, QFrame, QHBoxLayout, QHeaderView, QLabel, QLineEdit,
    QPushButton, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget,
)

from batchmill.core.patterns import platform_ignores_case
from batchmill.gui.counting import Counter, CountSignals
from batchmill.gui.resources import icon

PATH_ROLE = Qt.ItemDataRole.UserRole + 1
PLACEHOLDER = ("Drop folders or files here\n(or use Add folder… / Add files…)\n\n"
               "A dropped .py file becomes a processor")


def split_patterns(text: str) -> tuple[str, ...]:
    """``"*.tif, *.jpg; raw/*"`` -> ``("*.tif", "*.jpg", "raw/*")``."""
    return tuple(p for p in (part.strip() for part in re.split(r"[,;\n]", text)) if p)


def is_script(path: str) -> bool:
    """A Python file dropped on the window is a processor to load, not a file to process."""
    return path.lower().endswith(".py") and os.path.isfile(path)


def paths_from_drop(event: QDropEvent | QDragEnterEvent | QDragMoveEvent) -> list[str]:
    mime = event.mimeData()
    if mime is None or not mime.hasUrls():
        return []
    return [url.toLocalFile() for url in mime.urls() if url.isLocalFile() and url.toLocalFile()]


def accept_paths(event: QDropEvent | QDragEnterEvent) -> list[str]:
    """The local paths a drag carries; the drag is accepted if there are any, refused if not."""
    paths = paths_from_drop(event)
    if paths:
        event.acceptProposedAction()
    else:
        event.ignore()
    return paths


class InputsList(QTreeWidget):
    """The list of inputs, showing what to do when it is empty."""

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if self.topLevelItemCount() == 0:
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().placeholderText().color())
            painter.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter, PLACEHOLDER)
            painter.end()


class DropArea(QFrame):
    """Accepts file URLs dragged from a file manager; the list inside shows them."""

    dropped = Signal(list)  # local paths

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setObjectName("dropArea")
        self.list = InputsList(self)
        self.list.setAcceptDrops(False)
        self.list.viewport().setAcceptDrops(False)
        self.list.setColumnCount(2)
        self.list.setHeaderLabels(["Input", "Files"])
        self.list.setRootIsDecorated(False)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.setTextElideMode(Qt.TextElideMode.ElideLeft)  # the end of a path says most
        header = self.list.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if accept_paths(event):
            self._highlight(True)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if paths_from_drop(event):
            event.acceptProposedAction()

    def dragLeaveEvent(self, event: object) -> None:
        self._highlight(False)

    def dropEvent(self, event: QDropEvent) -> None:
        self._highlight(False)
        paths = accept_paths(event)
        if paths:
            self.dropped.emit(paths)

    def _highlight(self, on: bool) -> None:
        self.setStyleSheet("#dropArea { border: 2px dashed #1f5f99; }" if on else "")


class InputsPanel(QWidget):
    inputs_changed = Signal()
    sample_changed = Signal()  # the first input's first file is known (or changed)
    scripts_dropped = Signal(list)  # .py files dropped: processors to load

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.output = ""
        self.counts: dict[str, int | None] = {}  # path -> files (None while counting); kept in Python, not in
        # item data: an unset role read back through PySide6 6.12.0 costs a reference to None
        self.first_names: dict[str, str] = {}  # path -> name of its first file, from the count
        self.signals = CountSignals(self)
        self.counter = Counter(self.signals)
        self.signals.counting.connect(self._on_counting)
        self.signals.counted.connect(self._on_counted)
        self.signals.failed.connect(self._on_count_failed)
        self.signals.first.connect(self._on_first)

        self.drop_area = DropArea(self)
        self.drop_area.dropped.connect(self.take_drop)
        self.add_folder_button = QPushButton(icon("add-folder"), "Add folder…")
        self.add_files_button = QPushButton(icon("add-files"), "Add files…")
        self.remove_button = QPushButton(icon("remove"), "Remove")
        self.remove_button.setToolTip("Remove the selected inputs from the list (nothing is deleted on disk)")
        self.add_folder_button.clicked.connect(self.choose_folder)
        self.add_files_button.clicked.connect(self.choose_files)
        self.remove_button.clicked.connect(self.remove_selected)
        self.drop_area.list.itemSelectionChanged.connect(self._update_buttons)

        self.include_edit = QLineEdit()
        self.include_edit.setPlaceholderText("all files   (e.g. *.tif, *.jpg)")
        self.include_edit.setToolTip("Only files whose name or relative path matches one of these patterns")
        self.exclude_edit = QLineEdit()
        self.exclude_edit.setPlaceholderText("nothing   (e.g. *.tmp, .git)")
        self.exclude_edit.setToolTip("Skip files and folders matching any of these patterns")
        self.recursive_check = QCheckBox("Include sub-folders")
        self.recursive_check.setChecked(True)
        for edit in (self.include_edit, self.exclude_edit):
            edit.editingFinished.connect(self.recount)
        self.recursive_check.toggled.connect(self.recount)
        # Patterns are batchmill.core.patterns' (the CLI's --ignore-case); the default is the platform's.
        self.ignore_case_check = QCheckBox("Ignore case")
        self.ignore_case_check.setChecked(platform_ignores_case())
        self.ignore_case_check.setToolTip("Patterns ignore upper and lower case: *.jpg also picks IMG_0001.JPG")
        self.ignore_case_check.toggled.connect(self.recount)
        self.summary = QLabel()

        buttons = QHBoxLayout()
        for button in (self.add_folder_button, self.add_files_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.remove_button)
        patterns = QFormLayout()
        patterns.setContentsMargins(0, 0, 0, 0)
        include_row = QHBoxLayout()  # the line edit gives way, so the panel is no wider than before
        include_row.addWidget(self.include_edit, 1)
        include_row.addWidget(self.ignore_case_check)
        patterns.addRow("Include:", include_row)
        patterns.addRow("Exclude:", self.exclude_edit)
        bottom = QHBoxLayout()
        bottom.addWidget(self.recursive_check)
        bottom.addStretch(1)
        bottom.addWidget(self.summary)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(buttons)
        layout.addWidget(self.drop_area, 1)
        layout.addLayout(patterns)
        layout.addLayout(bottom)
        self._update_buttons()
        self._update_summary()

    # -- what the job needs ---------------------------------------------------
    def inputs(self) -> tuple[str, ...]:
        return tuple(self._item(i).data(0, PATH_ROLE) for i in range(self.drop_area.list.topLevelItemCount()))

    def include(self) -> tuple[str, ...]:
        return split_patterns(self.include_edit.text())

    def exclude(self) -> tuple[str, ...]:
        return split_patterns(self.exclude_edit.text())

    def recursive(self) -> bool:
        return self.recursive_check.isChecked()

    def ignore_case(self) -> bool:
        return self.ignore_case_check.isChecked()

    def set_patterns(self, include: tuple[str, ...], exclude: tuple[str, ...], recursive: bool) -> None:
        """From a preset; the inputs are counted again with them."""
        self.include_edit.setText(", ".join(include))
        self.exclude_edit.setText(", ".join(exclude))
        blocked = self.recursive_check.blockSignals(True)  # one recount below, not two
        self.recursive_check.setChecked(recursive)
        self.recursive_check.blockSignals(blocked)
        self.recount()

    def count_of(self, path: str) -> int | None:
        """The counted files of an input, None while counting (or if it cannot be read)."""
        return self.counts.get(path)

    def sample(self) -> tuple[str | None, bool]:
        """The name of the first input's first file, for the output name preview, and whether it may
        still come (the first input is being counted)."""
        inputs = self.inputs()
        if not inputs:
            return None, False
        name = self.first_names.get(inputs[0])
        return name, name is None and self.counts.get(inputs[0]) is None

    def count_text(self, path: str) -> str:
        for i in range(self.drop_area.list.topLevelItemCount()):
            item = self._item(i)
            if item.data(0, PATH_ROLE) == path:
                return item.text(1)
        return ""

    # -- changing the list ------------------------------------------------------
    def take_drop(self, paths: list[str]) -> None:
        """Dropped paths: scripts go to be loaded as processors, everything else onto the list."""
        scripts = [p for p in paths if is_script(p)]
        others = [p for p in paths if not is_script(p)]
        if others:
            self.add_paths(others)
        if scripts:
            self.scripts_dropped.emit(scripts)

    def add_paths(self, paths: list[str]) -> None:
        known = set(self.inputs())
        added = False
        for raw in paths:
            path = str(Path(raw).absolute())
            if path in known:
                continue
            known.add(path)
            item = QTreeWidgetItem([path, "counting…"])
            item.setData(0, PATH_ROLE, path)
            item.setToolTip(0, path)
            item.setIcon(0, icon("folder-open" if os.path.isdir(path) else "add-files"))
            item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.drop_area.list.addTopLevelItem(item)
            self.counts[path] = None
            self.counter.count(path, self.include(), self.exclude(), self.recursive(), self.output, self.ignore_case())
            added = True
        if added:
            self._changed()

    def remove_selected(self) -> None:
        for item in self.drop_area.list.selectedItems():
            index = self.drop_area.list.indexOfTopLevelItem(item)
            self.drop_area.list.takeTopLevelItem(index)
            self.counts.pop(item.data(0, PATH_ROLE), None)
            self.first_names.pop(item.data(0, PATH_ROLE), None)
        self._changed()

    def clear(self) -> None:
        self.drop_area.list.clear()
        self.counts.clear()
        self.first_names.clear()
        self._changed()

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder")
        if folder:
            self.add_paths([folder])

    def choose_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Add files")
        if files:
            self.add_paths(list(files))

    def set_output(self, output: str) -> None:
        """The output folder is never counted as input (the job leaves it out of the scan too)."""
        if output != self.output:
            self.output = output
            self.recount()

    def recount(self) -> None:
        self.counter.restart()
        for i in range(self.drop_area.list.topLevelItemCount()):
            item = self._item(i)
            self.counts[item.data(0, PATH_ROLE)] = None
            self.first_names.pop(item.data(0, PATH_ROLE), None)
            item.setText(1, "counting…")
            self.counter.count(item.data(0, PATH_ROLE), self.include(), self.exclude(), self.recursive(), self.output,
                               self.ignore_case())
        self._update_summary()
        self.sample_changed.emit()

    def stop(self) -> None:
        self.counter.stop()

    # -- count results ------------------------------------------------------------
    def _on_counting(self, path: str, so_far: int, generation: int) -> None:
        item = self._find(path, generation)
        if item is not None:
            item.setText(1, f"counting… {so_far:,}")

    def _on_counted(self, path: str, count: int, generation: int) -> None:
        item = self._find(path, generation)
        if item is not None:
            self.counts[path] = count
            item.setText(1, f"{count:,} file" + ("" if count == 1 else "s"))
            self._update_summary()
            self.sample_changed.emit()

    def _on_first(self, path: str, name: str, generation: int) -> None:
        if self._find(path, generation) is not None:
            self.first_names[path] = name
            self.sample_changed.emit()

    def _on_count_failed(self, path: str, reason: str, generation: int) -> None:
        item = self._find(path, generation)
        if item is not None:
            self.counts[path] = 0  # nothing to count there; the job will say why
            item.setText(1, reason)
            item.setToolTip(1, f"{path}: {reason}")
            self._update_summary()
            self.sample_changed.emit()

    def _find(self, path: str, generation: int) -> QTreeWidgetItem | None:
        if generation != self.counter.generation:
            return None
        for i in range(self.drop_area.list.topLevelItemCount()):
            item = self._item(i)
            if item.data(0, PATH_ROLE) == path:
                return item
        return None

    def _item(self, index: int) -> QTreeWidgetItem:
        item = self.drop_area.list.topLevelItem(index)
        assert item is not None
        return item

    def _changed(self) -> None:
        self._update_buttons()
        self._update_summary()
        self.inputs_changed.emit()
        self.sample_changed.emit()

    def _update_buttons(self) -> None:
        self.remove_button.setEnabled(bool(self.drop_area.list.selectedItems()))

    def _update_summary(self) -> None:
        inputs = self.inputs()
        if not inputs:
            self.summary.setText("no inputs yet")
            return
        counts = [self.count_of(p) for p in inputs]
        known = sum(c for c in counts if c is not None)
        pending = "" if all(c is not None for c in counts) else " so far"
        noun = "input" if len(inputs) == 1 else "inputs"
        self.summary.setText(f"{len(inputs)} {noun} · {known:,} files{pending}")
