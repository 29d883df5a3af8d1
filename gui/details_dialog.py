"""Per job: every failed file with its reason, a copyable traceback, and the report export."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView, QDialog, QFileDialog, QHBoxLayout, QHeaderView, QLabel, QPlainTextEdit, QPushButton,
    QSplitter, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget,
)

from batchmill.gui.bridge import Bridge, FailureRow
from batchmill.gui.formatting import describe_state, format_duration
from batchmill.gui.report_export import write_csv, write_json
from batchmill.gui.resources import icon

SHOWN_FAILURES = 5000  # a table of 100,000 rows helps nobody; the export has them all
RELOAD_DELAY_MS = 300


class DetailsDialog(QDialog):
    def __init__(self, bridge: Bridge, job_id: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.job_id = job_id
        self.rows: list[FailureRow] = []
        self.setWindowTitle("Job details")
        self.resize(900, 560)

        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Failed file", "Reason", "Attempts"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setColumnWidth(0, 300)
        self.table.itemSelectionChanged.connect(self._show_selected)
        self.traceback = QPlainTextEdit()
        self.traceback.setReadOnly(True)
        self.traceback.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.traceback.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.traceback.setPlaceholderText("Select a failed file to see its error and traceback.")
        self.copy_button = QPushButton(icon("copy"), "Copy traceback")
        self.copy_button.clicked.connect(self.copy_traceback)
        self.csv_button = QPushButton(icon("export"), "Export CSV…")
        self.json_button = QPushButton(icon("export"), "Export JSON…")
        self.csv_button.clicked.connect(lambda: self.export("csv"))
        self.json_button.clicked.connect(lambda: self.export("json"))
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.close)
        self.note = QLabel()

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(self.traceback)
        splitter.setSizes([300, 200])
        buttons = QHBoxLayout()
        buttons.addWidget(self.copy_button)
        buttons.addWidget(self.note, 1)
        buttons.addWidget(self.csv_button)
        buttons.addWidget(self.json_button)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(splitter, 1)
        layout.addLayout(buttons)

        self._reload_timer = QTimer(self)
        self._reload_timer.setSingleShot(True)
        self._reload_timer.setInterval(RELOAD_DELAY_MS)
        self._reload_timer.timeout.connect(self.reload)
        bridge.failures_added.connect(self._on_job_event)
        bridge.job_finished.connect(self._on_job_event)
        bridge.jobs_changed.connect(self._show_summary)
        self.reload()

    # -- content ---------------------------------------------------------------
    def reload(self) -> None:
        selected = self.selected_row()
        self.rows = self.bridge.failures(self.job_id)
        shown = self.rows[:SHOWN_FAILURES]
        self.table.setRowCount(len(shown))
        for i, failure in enumerate(shown):
            name = QTableWidgetItem(os.path.basename(failure.input))
            name.setToolTip(failure.input)
            reason = QTableWidgetItem(failure.error)
            reason.setToolTip(failure.error)
            attempts = QTableWidgetItem(str(failure.attempts))
            attempts.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            for column, item in enumerate((name, reason, attempts)):
                self.table.setItem(i, column, item)
        more = len(self.rows) - len(shown)
        self.note.setText(f"showing the first {len(shown):,} of {len(self.rows):,}; the export has all" if more > 0
                          else "")
        if selected is not None:
            for i, failure in enumerate(shown):
                if failure.file_id == selected.file_id:
                    self.table.selectRow(i)
                    break
        elif shown:
            self.table.selectRow(0)
        else:
            self.traceback.clear()
        self._show_summary()

    def _show_summary(self) -> None:
        row = self.bridge.jobs.job(self.job_id)
        if row is None:
            return
        self.setWindowTitle(f"Job details — {row.name}")
        text = (f"<b>{row.name}</b> &nbsp; ({describe_state(row.state)})<br>"
                f"{row.done:,} done, {row.failed:,} failed, {row.skipped:,} skipped of {row.total:,} files"
                + (f" in {format_duration(row.elapsed_s)}" if row.elapsed_s and not row.is_active else "")
                + f"<br>output: {row.output}")
        if row.error:
            text += f"<br><span style='color:#b3261e'>{row.error}</span>"
        if not self.rows:
            text += "<br>No file has failed."
        self.summary.setText(text)

    def selected_row(self) -> FailureRow | None:
        indexes = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not indexes or indexes[0].row() >= len(self.rows):
            return None
        return self.rows[indexes[0].row()]

    def _show_selected(self) -> None:
        failure = self.selected_row()
        if failure is None:
            self.traceback.clear()
            return
        text = f"{failure.input}\n{failure.error}\n"
        if failure.traceback:
            text += "\n" + failure.traceback
        self.traceback.setPlainText(text)

    def _on_job_event(self, job_id: str) -> None:
        if job_id == self.job_id:
            self._reload_timer.start()

    # -- actions -----------------------------------------------------------------
    def copy_traceback(self) -> None:
        QGuiApplication.clipboard().setText(self.traceback.toPlainText())

    def export(self, kind: str, path: Path | None = None) -> Path | None:
        """Write the report (every file of the job); asks where unless ``path`` is given."""
        if path is None:
            row = self.bridge.jobs.job(self.job_id)
            suggested = str(Path(row.output if row else ".") / f"batchmill-report-{self.job_id}.{kind}")
            chosen, _ = QFileDialog.getSaveFileName(self, f"Export the job report as {kind.upper()}", suggested,
                                                    f"{kind.upper()} files (*.{kind})")
            if not chosen:
                return None
            path = Path(chosen)
        job, files = self.bridge.report(self.job_id)
        try:
            if kind == "csv":
                write_csv(path, files)
            else:
                write_json(path, job, files)
        except OSError as exc:
            self.note.setText(f"could not write {path}: {exc.strerror or exc}")
            return None
        self.note.setText(f"report written to {path}")
        return path
