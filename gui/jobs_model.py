"""The queue table: one row per job of this session, updated by the bridge only."""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor

from batchmill.core.events import JobState
from batchmill.core.progress import ProgressView, view
from batchmill.gui.backend_field import describe_backend
from batchmill.gui.formatting import describe_outcome, format_count, format_duration, format_rate
from batchmill.gui.resources import icon

ProgressRole = Qt.ItemDataRole.UserRole + 1  # a float 0..1, or NO_PROGRESS, for the progress delegate
# Not None: PySide6 6.12.0 drops a reference to None each time an empty QVariant comes back to
# Python (index.data() of a role the model answers with None), until None itself is freed and
# the interpreter aborts. Roles that Python code reads therefore always hold a real value.
NO_PROGRESS = -1.0
JobIdRole = Qt.ItemDataRole.UserRole + 2
BarColorRole = Qt.ItemDataRole.UserRole + 3  # the progress bar's colour: a QColor (NORMAL_BAR: the style's own)

FAILED_COLOR = QColor("#b3261e")
WARNING_COLOR = QColor("#8a5a00")
DONE_COLOR = QColor("#1e6b35")
FAILED_BAR_COLOR = QColor("#c4661f")  # completed with failures: not the blue of a clean finish
STOPPED_BAR_COLOR = QColor("#9e9e9e")  # interrupted, cancelled, halted: not going on by itself
NORMAL_BAR = QColor()  # invalid: the style's highlight colour

_Index = QModelIndex | QPersistentModelIndex


class Column(enum.IntEnum):
    NAME = 0
    PROCESSOR = 1
    STATE = 2
    PROGRESS = 3
    DONE = 4
    FAILED = 5
    SKIPPED = 6
    TOTAL = 7
    RATE = 8
    ETA = 9


HEADERS = {
    Column.NAME: "Job", Column.PROCESSOR: "Processor", Column.STATE: "State", Column.PROGRESS: "Progress",
    Column.DONE: "Done", Column.FAILED: "Failed", Column.SKIPPED: "Skipped", Column.TOTAL: "Total",
    Column.RATE: "Files/s", Column.ETA: "ETA",
}
STATE_ICONS = {
    JobState.QUEUED: "queued", JobState.PLANNING: "queued", JobState.RUNNING: "start", JobState.PAUSED: "pause",
    JobState.COMPLETED: "done", JobState.CANCELLED: "stopped", JobState.HALTED: "stopped",
    JobState.INTERRUPTED: "stopped", JobState.ERROR: "warning",
}
NUMERIC = {Column.DONE, Column.FAILED, Column.SKIPPED, Column.TOTAL, Column.RATE, Column.ETA}


@dataclass
class JobRow:
    job_id: str
    name: str
    processor: str
    output: str
    inputs: tuple[str, ...] = ()
    state: JobState = JobState.QUEUED
    total: int = 0
    done: int = 0
    failed: int = 0
    skipped: int = 0
    files_per_s: float = 0.0
    eta_s: float | None = None
    error: str | None = None
    elapsed_s: float = 0.0
    backend: str = "local"
    scheduler: str | None = None
    scanning: bool = True  # the inputs are not all scanned yet: ``total`` is "files found so far"
    counted: int | None = None  # the window's own count of the inputs before the job started
    from_history: bool = False  # listed from the journal, not run in this session
    created: float = 0.0  # time.time() when the job was made

    @property
    def progress(self) -> ProgressView:
        """The one computation of total, fraction and ETA that the CLI uses too."""
        return view(self.total, self.finished_files, self.scanning and self.is_active, self.files_per_s,
                    self.counted)

    @property
    def processor_text(self) -> str:
        """``checksum``, or ``checksum · dask`` for a job that runs on a Dask cluster."""
        return self.processor if self.backend == "local" else f"{self.processor} · {self.backend}"

    @property
    def finished_files(self) -> int:
        return self.done + self.failed + self.skipped

    @property
    def fraction(self) -> float | None:
        if self.total <= 0 and not self.is_active:
            return 1.0 if self.state is JobState.COMPLETED else None
        return self.progress.fraction

    @property
    def is_active(self) -> bool:
        return self.state.is_active


class JobsModel(QAbstractTableModel):
    rename_requested = Signal(str, str)  # job id, the name the operator typed (the bridge journals it)

    def __init__(self) -> None:
        super().__init__()
        self._rows: list[JobRow] = []

    # -- the bridge's side ------------------------------------------------
    def add(self, row: JobRow) -> None:
        if self.row_of(row.job_id) is not None:
            return
        self.beginInsertRows(QModelIndex(), len(self._rows), len(self._rows))
        self._rows.append(row)
        self.endInsertRows()

    def add_first(self, rows: list[JobRow]) -> None:
        """Rows above those shown (past jobs, listed once they are read)."""
        self.beginInsertRows(QModelIndex(), 0, len(rows) - 1)
        self._rows[:0] = rows
        self.endInsertRows()

    def remove(self, job_id: str) -> None:
        index = self.row_of(job_id)
        if index is None:
            return
        self.beginRemoveRows(QModelIndex(), index, index)
        del self._rows[index]
        self.endRemoveRows()

    def touch(self, job_id: str) -> None:
        """Tell the views that a row changed (the bridge edits JobRow fields, then touches once)."""
        index = self.row_of(job_id)
        if index is not None:
            self.dataChanged.emit(self.index(index, 0), self.index(index, len(Column) - 1))

    def job(self, job_id: str) -> JobRow | None:
        index = self.row_of(job_id)
        return self._rows[index] if index is not None else None

    def row_of(self, job_id: str) -> int | None:
        for i, row in enumerate(self._rows):
            if row.job_id == job_id:
                return i
        return None

    def job_at(self, row: int) -> JobRow | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def jobs(self) -> list[JobRow]:
        return list(self._rows)

    # -- Qt's side --------------------------------------------------------
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(Column)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation is Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[Column(section)]
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        flags = super().flags(index)
        if index.isValid() and index.column() == Column.NAME:
            flags |= Qt.ItemFlag.ItemIsEditable  # the job's name is the operator's (F2, Rename…)
        return flags

    def setData(self, index: _Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or index.column() != Column.NAME or role != Qt.ItemDataRole.EditRole:
            return False
        self.rename_requested.emit(self._rows[index.row()].job_id, str(value))
        return True

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        column = Column(index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, column)
        if role == Qt.ItemDataRole.EditRole and column is Column.NAME:
            return row.name
        if role == ProgressRole:
            return NO_PROGRESS if row.fraction is None else row.fraction
        if role == JobIdRole:
            return row.job_id
        if role == BarColorRole:
            return self._bar_color(row)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in NUMERIC:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._foreground(row, column)
        if role == Qt.ItemDataRole.DecorationRole and column is Column.STATE:
            # A mark that still shows when the row is selected (the red text then does not).
            return icon("warning" if row.failed and not row.is_active else STATE_ICONS[row.state])
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row, column)
        return None

    @staticmethod
    def _display(row: JobRow, column: Column) -> str:
        if column is Column.NAME:
            return row.name
        if column is Column.PROCESSOR:
            return row.processor_text
        if column is Column.STATE:
            return describe_outcome(row.state, row.failed)
        if column is Column.PROGRESS:
            fraction = row.fraction
            if fraction is None and row.is_active and row.total:
                return f"scanning… {row.total:,} found"  # no percentage of a total that will grow
            return "" if fraction is None else f"{fraction * 100:.0f} %"
        if column in (Column.DONE, Column.FAILED, Column.SKIPPED) and row.is_active and not row.finished_files \
                and row.state is not JobState.RUNNING:
            return ""  # not started yet: a row of zeros would read as "nothing to do"
        if column is Column.DONE:
            return format_count(row.done)
        if column is Column.FAILED:
            return format_count(row.failed)
        if column is Column.SKIPPED:
            return format_count(row.skipped)
        if column is Column.TOTAL:
            if not row.is_active:
                return format_count(row.total)
            total = row.progress.total
            return format_count(total) if total else ""
        if column is Column.RATE:
            return format_rate(row.files_per_s) if row.state is JobState.RUNNING else ""
        if column is Column.ETA:
            return format_duration(row.progress.eta_s) if row.state is JobState.RUNNING else ""
        return ""

    @staticmethod
    def _bar_color(row: JobRow) -> QColor:
        if row.state is JobState.ERROR or (row.failed and not row.is_active):
            return FAILED_BAR_COLOR
        if row.state in (JobState.CANCELLED, JobState.INTERRUPTED, JobState.HALTED):
            return STOPPED_BAR_COLOR
        return NORMAL_BAR

    @staticmethod
    def _foreground(row: JobRow, column: Column) -> QBrush | None:
        if column is Column.FAILED and row.failed:
            return QBrush(FAILED_COLOR)
        if column is Column.STATE:
            if row.state is JobState.ERROR or (row.state is JobState.COMPLETED and row.failed):
                return QBrush(FAILED_COLOR)
            if row.state in (JobState.HALTED, JobState.INTERRUPTED, JobState.CANCELLED, JobState.PAUSED):
                return QBrush(WARNING_COLOR)
            if row.state is JobState.COMPLETED:
                return QBrush(DONE_COLOR)
        return None

    @staticmethod
    def _tooltip(row: JobRow, column: Column) -> str | None:
        if column is Column.STATE:
            return row.error or describe_outcome(row.state, row.failed)
        runs_on = f"runs on {describe_backend(row.backend, row.scheduler)}"
        if column is Column.NAME:
            inputs = "\n".join(row.inputs)
            made = time.strftime("%Y-%m-%d %H:%M", time.localtime(row.created)) if row.created else "?"
            total = row.progress.total
            files = f"{total:,} files" if total else "files not counted yet"
            return (f"{row.name}\njob {row.job_id}, made {made}\n{row.processor}, {files}\ninputs:\n{inputs}\n"
                    f"output: {row.output}\n{runs_on}")
        if column is Column.PROCESSOR:
            return f"{row.processor}, {runs_on}"
        return None
