"""Per job: every failed file with its reason, a copyable traceback, and the report export.

The failed files are read off the window's thread, on a read-only connection
(batchmill.gui.journal_reads): the dialog opens at once, says it is reading, and fills in
when the journal answers, even while a writer holds it."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, QUrl
from PySide6.QtGui import QDesktopServices, QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView, QCheckBox, QComboBox, QDialog, QFileDialog, QHBoxLayout, QHeaderView, QLabel, QPlainTextEdit, QPushButton,
    QSplitter, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget,
)

from batchmill.core.journal import FileRecord, JobRecord
from batchmill.core.lifecycle import Verb
from batchmill.core.triage import group_reasons, reason_of, relative_input, trim_traceback
from batchmill.gui.bridge import Bridge, FailureRow, JobError
from batchmill.gui.formatting import describe_outcome, format_duration
from batchmill.gui.report_export import write_csv, write_json
from batchmill.gui.resources import icon

SHOWN_FAILURES = 5000  # a table of 100,000 rows helps nobody; the export has them all
RELOAD_DELAY_MS = 300
READ_AGAIN_MS = 2000  # after a read that failed (a journal locked for longer than the busy timeout)
LOADING = "Reading the failed files from the journal…"
READ_FAILED = "could not read the failed files"


class DetailsDialog(QDialog):
    def __init__(self, bridge: Bridge, job_id: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.job_id = job_id
        self.rows: list[FailureRow] = []
        self.every: list[FailureRow] = []  # the last read: every failed file, whatever the filter
        self.loading = True  # nothing read yet
        self._reads = 0  # the newest read asked for: an older one's answer is not shown
        self.setWindowTitle("Job details")
        self.resize(900, 560)

        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.reason_filter = QComboBox()  # failures grouped by reason: one at a time, or all
        self.reason_filter.setToolTip("Show the failed files of one reason only (numbers, names and paths "
                                      "that vary from file to file are left out of a reason)")
        self.reason_filter.currentIndexChanged.connect(lambda _index: self._fill_table())
        self.full_traceback = QCheckBox("Full traceback")
        self.full_traceback.setToolTip("Show Batchmill's own frames too (hidden by default: yours come first)")
        self.full_traceback.toggled.connect(lambda _on: self._show_selected())
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Failed file", "Reason", "Attempts"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)  # Retry selected
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
        self.folder_button = QPushButton(icon("folder-open"), "Open its folder")
        self.folder_button.setToolTip("Open the folder that holds the selected failed file")
        self.folder_button.clicked.connect(self.open_input_folder)
        self.retry_selected_button = QPushButton(icon("retry"), "Retry selected")
        self.retry_selected_button.setToolTip("Run only the selected failed files again (Ctrl- or Shift-click to "
                                              "select several), with the code the job was made with")
        self.retry_selected_button.clicked.connect(self.retry_selected)
        self.table.itemSelectionChanged.connect(self._update_retry_button)
        bridge.jobs_changed.connect(self._update_retry_button)
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
        buttons.addWidget(self.folder_button)
        buttons.addWidget(self.retry_selected_button)
        buttons.addWidget(self.note, 1)
        buttons.addWidget(self.csv_button)
        buttons.addWidget(self.json_button)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        filters = QHBoxLayout()
        filters.addWidget(QLabel("Reason:"))
        filters.addWidget(self.reason_filter, 1)
        filters.addWidget(self.full_traceback)
        layout.addLayout(filters)
        layout.addWidget(splitter, 1)
        layout.addLayout(buttons)

        self._reload_timer = QTimer(self)
        self._reload_timer.setSingleShot(True)
        self._reload_timer.setInterval(RELOAD_DELAY_MS)
        self._reload_timer.timeout.connect(self.reload)
        bridge.failures_added.connect(self._on_job_event)
        bridge.job_finished.connect(self._on_job_event)
        bridge.jobs_changed.connect(self._show_summary)
        self._show_summary()  # the job's counts are the window's own: shown at once, the files when read
        self.reload()

    # -- content ---------------------------------------------------------------
    def reload(self) -> None:
        """Read the job's failed files again; the table fills in when they arrive (never on this
        thread: a journal held by a writer does not freeze the window)."""
        self._reads += 1
        asked = self._reads
        self.bridge.read_failures(self.job_id, lambda rows: self._on_read(asked, rows),
                                  lambda why: self._on_read_failed(asked, why))

    def _on_read(self, asked: int, every: list[FailureRow]) -> None:
        if asked != self._reads:
            return  # a newer read is under way
        self.loading = False
        self.every = every
        self._fill_reasons(every)
        self._fill_table()

    def _on_read_failed(self, asked: int, why: str) -> None:
        if asked != self._reads:
            return
        if not self.note.text().startswith(READ_FAILED):  # told once, not at every try
            self.bridge.log_lines.emit([("error", why)])
        self.note.setText(f"{READ_FAILED}: {why.splitlines()[0]}; trying again")
        QTimer.singleShot(READ_AGAIN_MS, self, self._read_again)

    def _read_again(self) -> None:
        if self.isVisible():
            self.reload()

    def _fill_table(self) -> None:
        selected = self.selected_row()
        wanted = self.reason_filter.currentData()
        self.rows = [f for f in self.every if not wanted or reason_of(f.error) == wanted]
        shown = self.rows[:SHOWN_FAILURES]
        job = self.bridge.jobs.job(self.job_id)
        roots = job.inputs if job is not None else ()
        self.table.setRowCount(len(shown))
        for i, failure in enumerate(shown):
            name = QTableWidgetItem(relative_input(failure.input, roots))
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
        text = (f"<b>{row.name}</b> &nbsp; ({describe_outcome(row.state, row.failed)})<br>"
                f"{row.done:,} done, {row.failed:,} failed, {row.skipped:,} skipped of {row.total:,} files"
                + (f" in {format_duration(row.elapsed_s)}" if row.elapsed_s and not row.is_active else "")
                + f"<br>output: {row.output}")
        if row.error:
            text += f"<br><span style='color:#b3261e'>{row.error}</span>"
        if self.loading:
            text += f"<br>{LOADING}"
        elif not self.every:
            text += "<br>No file has failed."
        self.summary.setText(text)

    def selected_row(self) -> FailureRow | None:
        indexes = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not indexes or indexes[0].row() >= len(self.rows):
            return None
        return self.rows[indexes[0].row()]

    def selected_rows(self) -> list[FailureRow]:
        """Every selected failed file, in the table's order."""
        model = self.table.selectionModel()
        rows = sorted({index.row() for index in model.selectedRows()}) if model is not None else []
        return [self.rows[i] for i in rows if i < len(self.rows)]

    def _update_retry_button(self) -> None:
        job = self.bridge.jobs.job(self.job_id)
        count = len(self.selected_rows())
        self.retry_selected_button.setText(f"Retry selected ({count})" if count > 1 else "Retry selected")
        self.retry_selected_button.setEnabled(count > 0 and job is not None and job.state.allows(Verb.RETRY, job.failed))

    def retry_selected(self) -> None:
        """Run only the selected failed files again; the others stay failed."""
        chosen = self.selected_rows()
        if not chosen:
            return
        try:
            self.bridge.retry(self.job_id, False, {failure.file_id for failure in chosen})
        except JobError as exc:
            self.note.setText(str(exc))
        else:
            self.note.setText(f"retrying {len(chosen):,} of the failed files")
        self._update_retry_button()

    def _show_selected(self) -> None:
        failure = self.selected_row()
        if failure is None:
            self.traceback.clear()
            return
        text = f"{failure.input}\n{failure.error}\n"
        if failure.traceback:
            shown = failure.traceback if self.full_traceback.isChecked() else trim_traceback(failure.traceback)[0]
            text += "\n" + shown
        self.traceback.setPlainText(text)

    def _fill_reasons(self, failures: list[FailureRow]) -> None:
        groups = group_reasons(f.error for f in failures)
        entries = [(f"All reasons ({len(failures):,} files)", "")] + [
            (f"{count:,} × {reason}", reason) for reason, count in groups]
        have = [(self.reason_filter.itemText(i), self.reason_filter.itemData(i))
                for i in range(self.reason_filter.count())]
        if have == entries:
            return
        current = self.reason_filter.currentData()
        blocked = self.reason_filter.blockSignals(True)
        self.reason_filter.clear()
        for text, reason in entries:
            self.reason_filter.addItem(text, reason)
        index = self.reason_filter.findData(current) if current else 0
        self.reason_filter.setCurrentIndex(max(index, 0))
        self.reason_filter.blockSignals(blocked)

    def _on_job_event(self, job_id: str) -> None:
        if job_id == self.job_id:
            self._reload_timer.start()

    # -- actions -----------------------------------------------------------------
    def copy_traceback(self) -> None:
        """The whole traceback (Batchmill's frames too: a bug report wants them), and a word that it went."""
        failure = self.selected_row()
        if failure is None:
            self.note.setText("select a failed file first")
            return
        QGuiApplication.clipboard().setText(f"{failure.input}\n{failure.error}\n\n{failure.traceback}")
        self.note.setText(f"traceback of {os.path.basename(failure.input)} copied to the clipboard")

    def open_input_folder(self) -> None:
        failure = self.selected_row()
        if failure is None:
            self.note.setText("select a failed file first")
            return
        folder = os.path.dirname(failure.input)
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(folder)):
            self.note.setText(f"no file manager could open {folder}")

    def export(self, kind: str, path: Path | None = None) -> Path | None:
        """Write the report (every file of the job), read and written off the window's thread;
        asks where unless ``path`` is given. Returns the path it is being written to (the note
        says when it is written)."""
        if path is None:
            row = self.bridge.jobs.job(self.job_id)
            suggested = str(Path(row.output if row else ".") / f"batchmill-report-{self.job_id}.{kind}")
            chosen, _ = QFileDialog.getSaveFileName(self, f"Export the job report as {kind.upper()}", suggested,
                                                    f"{kind.upper()} files (*.{kind})")
            if not chosen:
                return None
            path = Path(chosen)
        target = path

        def write(job: JobRecord, files: list[FileRecord]) -> str:
            try:
                if kind == "csv":
                    write_csv(target, files)
                else:
                    write_json(target, job, files)
            except OSError as exc:
                return f"could not write {target}: {exc.strerror or exc}"
            return f"report written to {target}"

        self.note.setText(f"writing the report to {target}…")
        self.bridge.read_report(self.job_id, write, self.note.setText,
                                lambda why: self.note.setText(f"could not read the job's files: {why.splitlines()[0]}"))
        return target
