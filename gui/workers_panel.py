"""The workers panel (one row per worker process) and the log view."""

from __future__ import annotations

import time

from PySide6.QtGui import QColor, QTextCharFormat
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QPlainTextEdit, QWidget

from batchmill.gui.progress_delegate import ProgressDelegate
from batchmill.gui.views import PlaceholderTableView
from batchmill.gui.workers_model import WorkerColumn, WorkersModel

LOG_LINES_KEPT = 5000
LEVEL_COLORS = {"error": QColor("#b3261e"), "warning": QColor("#8a5a00")}


class WorkersView(PlaceholderTableView):
    def __init__(self, model: WorkersModel, parent: QWidget | None = None) -> None:
        super().__init__("Worker processes appear here while a job runs: the file each one is on, "
                         "its progress, and for how long.", parent)
        self.setModel(model)
        self.setItemDelegateForColumn(WorkerColumn.PROGRESS, ProgressDelegate(self))
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().hide()
        self.setWordWrap(False)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(WorkerColumn.FILE, QHeaderView.ResizeMode.Stretch)
        # "#1  (pid 4242)" here, "#1  tcp://10.0.0.5:40331  (pid 4242)" on Dask: always whole.
        header.setSectionResizeMode(WorkerColumn.WORKER, QHeaderView.ResizeMode.ResizeToContents)
        for column, width in {WorkerColumn.PROGRESS: 150, WorkerColumn.ELAPSED: 80, WorkerColumn.NOTE: 220}.items():
            self.setColumnWidth(column, width)


class LogView(QPlainTextEdit):
    """Engine log lines and job summaries, newest at the bottom; errors in red."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMaximumBlockCount(LOG_LINES_KEPT)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.setPlaceholderText("Messages from the jobs appear here.")

    def add_lines(self, lines: list[tuple[str, str]]) -> None:
        cursor = self.textCursor()
        at_end = self.verticalScrollBar().value() == self.verticalScrollBar().maximum()
        cursor.movePosition(cursor.MoveOperation.End)
        stamp = time.strftime("%H:%M:%S")
        for level, text in lines:
            fmt = QTextCharFormat()
            color = LEVEL_COLORS.get(level)
            if color is not None:
                fmt.setForeground(color)
            if not self.document().isEmpty():
                cursor.insertBlock()
            cursor.insertText(f"{stamp}  {text}", fmt)
        if at_end:
            self.verticalScrollBar().setValue(self.verticalScrollBar().maximum())

    def text(self) -> str:
        return self.toPlainText()
