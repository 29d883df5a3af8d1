"""The workers panel: one row per worker process — its file, that file's progress,
how long it has been on it — with a file nearing its timeout standing out."""

from __future__ import annotations

import enum
import os
import time
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont

from batchmill.gui.formatting import format_duration
from batchmill.gui.jobs_model import NO_PROGRESS, ProgressRole

NEAR_TIMEOUT = 0.75  # share of the timeout after which a file is flagged
NEAR_TIMEOUT_BACKGROUND = QColor("#fde2b8")
NEAR_TIMEOUT_FOREGROUND = QColor("#8a3b00")
EXITED_FOREGROUND = QColor("#b3261e")
IDLE_FOREGROUND = QColor("#6b7480")
NearTimeoutRole = Qt.ItemDataRole.UserRole + 10

_Index = QModelIndex | QPersistentModelIndex


class WorkerColumn(enum.IntEnum):
    WORKER = 0
    FILE = 1
    PROGRESS = 2
    ELAPSED = 3
    NOTE = 4


HEADERS = {WorkerColumn.WORKER: "Worker", WorkerColumn.FILE: "File", WorkerColumn.PROGRESS: "File progress",
           WorkerColumn.ELAPSED: "On it for", WorkerColumn.NOTE: "Status"}


@dataclass
class WorkerRow:
    worker: int
    pid: int | None = None
    job_id: str | None = None
    file_id: int | None = None
    input: str | None = None
    started_at: float | None = None  # time.time()
    fraction: float | None = None
    message: str = ""
    timeout_s: float | None = None
    exited: str | None = None  # why the process ended, until a new one takes the slot
    label: str = ""  # where it runs when not on this machine: the Dask worker's address

    @property
    def busy(self) -> bool:
        return self.input is not None and self.exited is None

    def elapsed(self, now: float) -> float | None:
        return max(0.0, now - self.started_at) if self.busy and self.started_at is not None else None

    def near_timeout(self, now: float) -> bool:
        elapsed = self.elapsed(now)
        return elapsed is not None and self.timeout_s is not None and elapsed >= NEAR_TIMEOUT * self.timeout_s


class WorkersModel(QAbstractTableModel):
    def __init__(self) -> None:
        super().__init__()
        self._rows: list[WorkerRow] = []

    # -- the bridge's side ------------------------------------------------
    def row_for(self, worker: int) -> WorkerRow:
        """The row of a worker id, created (in id order) when first seen."""
        for row in self._rows:
            if row.worker == worker:
                return row
        position = sum(1 for r in self._rows if r.worker < worker)
        self.beginInsertRows(QModelIndex(), position, position)
        created = WorkerRow(worker)
        self._rows.insert(position, created)
        self.endInsertRows()
        return created

    def keep_only(self, count: int) -> None:
        """Drop rows of worker ids above ``count`` (the pool shrank quietly between jobs)."""
        for i in range(len(self._rows) - 1, -1, -1):
            if self._rows[i].worker > count:
                self.beginRemoveRows(QModelIndex(), i, i)
                del self._rows[i]
                self.endRemoveRows()

    def clear_files(self) -> None:
        """Every worker is idle (the job ended): forget what each was on."""
        for row in self._rows:
            row.file_id = row.input = row.started_at = row.fraction = None
            row.message = ""
        self.refresh()

    def refresh(self) -> None:
        if self._rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._rows) - 1, len(WorkerColumn) - 1))

    def rows(self) -> list[WorkerRow]:
        return list(self._rows)

    # -- Qt's side --------------------------------------------------------
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(WorkerColumn)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation is Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[WorkerColumn(section)]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        column = WorkerColumn(index.column())
        now = time.time()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, column, now)
        if role == ProgressRole:
            return row.fraction if row.busy and row.fraction is not None else NO_PROGRESS
        if role == NearTimeoutRole:
            return row.near_timeout(now)
        if role == Qt.ItemDataRole.BackgroundRole and row.near_timeout(now):
            return QBrush(NEAR_TIMEOUT_BACKGROUND)
        if role == Qt.ItemDataRole.ForegroundRole:
            if row.near_timeout(now):
                return QBrush(NEAR_TIMEOUT_FOREGROUND)
            if row.exited:
                return QBrush(EXITED_FOREGROUND)
            if not row.busy:
                return QBrush(IDLE_FOREGROUND)
        if role == Qt.ItemDataRole.FontRole and row.near_timeout(now):
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ToolTipRole:
            return row.input if column is WorkerColumn.FILE else self._display(row, WorkerColumn.NOTE, now)
        if role == Qt.ItemDataRole.TextAlignmentRole and column is WorkerColumn.ELAPSED:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    @staticmethod
    def _display(row: WorkerRow, column: WorkerColumn, now: float) -> str:
        if column is WorkerColumn.WORKER:
            where = f"  {row.label}" if row.label else ""
            return f"#{row.worker}{where}" + (f"  (pid {row.pid})" if row.pid else "")
        if column is WorkerColumn.FILE:
            return os.path.basename(row.input) if row.busy and row.input else ""
        if column is WorkerColumn.PROGRESS:
            return "" if row.fraction is None or not row.busy else f"{row.fraction * 100:.0f} %"
        if column is WorkerColumn.ELAPSED:
            return format_duration(row.elapsed(now))
        if row.exited:
            return row.exited
        if row.near_timeout(now) and row.timeout_s is not None:
            return f"near its {row.timeout_s:g} s timeout"
        if row.busy:
            return row.message or "working"
        return "idle"
