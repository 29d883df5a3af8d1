"""The queue: the jobs table and the buttons that act on the selected job."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QItemSelectionModel, QPoint, Qt, Signal, SignalInstance
from PySide6.QtWidgets import (
    QAbstractItemView, QHBoxLayout, QHeaderView, QMenu, QMessageBox, QPushButton, QStyle, QTableView, QToolButton,
    QVBoxLayout, QWidget,
)

from batchmill.core.lifecycle import Verb
from batchmill.gui.bridge import Bridge, JobError
from batchmill.gui.formatting import STATE_WORDS, WIDEST_OUTCOME
from batchmill.gui.jobs_model import Column, JobRow
from batchmill.gui.progress_delegate import ProgressDelegate
from batchmill.gui.resources import icon
from batchmill.gui.views import PlaceholderTableView

BUTTON_VERBS = (Verb.PAUSE, Verb.RESUME, Verb.CANCEL, Verb.RETRY, Verb.REMOVE)  # in the order of the buttons below
QUEUE_MIN_ROWS = 3  # rows the queue shows at the least (800x600 included)
VISUAL_ORDER = (Column.NAME, Column.STATE, Column.PROGRESS, Column.RATE, Column.ETA, Column.DONE, Column.FAILED,
                Column.TOTAL, Column.SKIPPED, Column.PROCESSOR)
JOB_NAME_MIN_WIDTH = 200  # "checksum: survey-2026" whole, even at 800x600 (the table scrolls instead)
STATE_PADDING = 28  # cell margins, the gap after the icon, and a little air


def state_column_width(table: QTableView) -> int:
    """Room for the longest state word after its icon, in this font: states are never cut short."""
    metrics = table.fontMetrics()
    longest = max(metrics.horizontalAdvance(word) for word in (*STATE_WORDS.values(), WIDEST_OUTCOME))
    icon_size = table.style().pixelMetric(QStyle.PixelMetric.PM_SmallIconSize)
    return longest + icon_size + STATE_PADDING


class QueuePanel(QWidget):
    details_requested = Signal(str)  # job id
    open_output_requested = Signal(str)  # job id
    problem = Signal(str)  # a message for the operator (a command the engine refused)
    removed = Signal(str)  # job id taken off the list (its record stays in the journal)
    notice = Signal(str)  # what a command did, for the status bar

    def __init__(self, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.table = PlaceholderTableView("Jobs appear here when you press Start. "
                                          "Several jobs can wait in the queue; they run one after another.")
        self.table.setModel(bridge.jobs)
        self.table.setItemDelegateForColumn(Column.PROGRESS, ProgressDelegate(self.table))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        # The job's name is edited with F2 or Rename… (a double-click opens Details).
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.EditKeyPressed)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setMinimumSectionSize(48)
        widths = {Column.PROCESSOR: 84, Column.STATE: state_column_width(self.table), Column.PROGRESS: 130,
                  Column.DONE: 64, Column.FAILED: 58, Column.SKIPPED: 62, Column.TOTAL: 64, Column.RATE: 62,
                  Column.ETA: 58}
        for column, width in widths.items():
            self.table.setColumnWidth(column, width)
        self.table.stretch_column(Column.NAME, JOB_NAME_MIN_WIDTH)
        # What an operator watches sits left, where a narrow window still shows it: the rate and
        # ETA right after the bar; the counts after them.
        for visual, column in enumerate(VISUAL_ORDER):
            header.moveSection(header.visualIndex(column), visual)
        rows_height = self.table.verticalHeader().defaultSectionSize() * QUEUE_MIN_ROWS
        self.table.setMinimumHeight(header.sizeHint().height() + rows_height + 2 * self.table.frameWidth()
                                    + self.table.horizontalScrollBar().sizeHint().height())
        # A job's processor ("python", "checksum · dask") is read whole: the column widens to fit.
        bridge.jobs.rowsInserted.connect(lambda *_: self.fit_processor_column())
        self.table.doubleClicked.connect(lambda index: self._emit_for_selected(self.details_requested))

        self.pause_button = QPushButton(icon("pause"), "Pause")
        self.resume_button = QPushButton(icon("resume"), "Resume")
        self.cancel_button = QPushButton(icon("cancel"), "Cancel")
        self.retry_button = QPushButton(icon("retry"), "Retry failed")
        self.remove_button = QPushButton(icon("remove"), "Remove")
        self.details_button = QPushButton(icon("details"), "Details…")
        self.open_button = QPushButton(icon("folder-open"), "Open output")
        tips = {
            self.pause_button: "Pause the selected job: workers finish the file they are on, then wait",
            self.resume_button: "Continue the selected paused, cancelled or interrupted job; done files are kept",
            self.cancel_button: "Stop the selected job now; done files are kept and it can be resumed later",
            self.retry_button: "Run only the failed files of the selected job again (asks which code to run "
                               "when its script has been edited since)",
            self.remove_button: "Take the selected job off this list, now and after a restart (a queued job is "
                                "cancelled; its outputs and its record in the journal stay); the arrow beside it "
                                "also forgets it for good",
            self.details_button: "Failed files with their errors and tracebacks; export the job report",
            self.open_button: "Open the selected job's output folder in the file manager",
        }
        for button, tip in tips.items():
            button.setToolTip(tip)
        self.pause_button.clicked.connect(lambda: self._act(self.bridge.pause))
        self.resume_button.clicked.connect(lambda: self._act(self.bridge.resume))
        self.cancel_button.clicked.connect(lambda: self._act(self.bridge.cancel))
        self.retry_button.clicked.connect(self.retry_selected)
        self.remove_button.clicked.connect(self.remove_selected)
        # Remove's other way: forget the job for good (the journal keeps every job until told).
        self.remove_menu = QMenu(self)
        self.remove_menu.addAction("Remove from the list", self.remove_selected)
        self.forget_action = self.remove_menu.addAction(icon("remove"), "Forget for good (delete from the journal)…",
                                                        self.forget_selected)
        self.remove_more_button = QToolButton()
        self.remove_more_button.setArrowType(Qt.ArrowType.DownArrow)
        self.remove_more_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.remove_more_button.setMenu(self.remove_menu)
        self.remove_more_button.setToolTip("Remove from the list, or forget the job for good")
        # The row's own menu: rename, then Remove's two ways.
        self.context_menu = QMenu(self)
        self.context_menu.addAction("Rename…", self.rename_selected).setShortcut(Qt.Key.Key_F2)
        self.context_menu.addSeparator()
        self.context_menu.addAction("Remove from the list", self.remove_selected)
        self.context_forget_action = self.context_menu.addAction(
            icon("remove"), "Forget for good (delete from the journal)…", self.forget_selected)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._show_remove_menu)
        self.details_button.clicked.connect(lambda: self._emit_for_selected(self.details_requested))
        self.open_button.clicked.connect(lambda: self._emit_for_selected(self.open_output_requested))

        buttons = QHBoxLayout()
        for button in (self.pause_button, self.resume_button, self.cancel_button, self.retry_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        for button in (self.details_button, self.open_button, self.remove_button):
            buttons.addWidget(button)
        buttons.addWidget(self.remove_more_button)
        self.remove_more_button.setFixedHeight(self.remove_button.sizeHint().height())  # one row of buttons
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)

        self.retry_box: QMessageBox | None = None
        self._selected_id: str | None = None
        self._buttons_shown: tuple[bool, ...] = ()
        self.table.selectionModel().selectionChanged.connect(self._remember_selection)
        bridge.jobs_changed.connect(self.update_buttons)
        bridge.jobs.rowsRemoved.connect(self._remember_selection)
        self.update_buttons()

    def fit_processor_column(self) -> None:
        fitted = self.table.sizeHintForColumn(Column.PROCESSOR)
        if fitted > self.table.columnWidth(Column.PROCESSOR):
            self.table.setColumnWidth(Column.PROCESSOR, fitted)

    def select(self, job_id: str) -> None:
        row = self.bridge.jobs.row_of(job_id)
        if row is not None:
            self.table.selectionModel().select(
                self.bridge.jobs.index(row, 0),
                QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
            self.table.setCurrentIndex(self.bridge.jobs.index(row, 0))

    def selected(self) -> JobRow | None:
        return self.bridge.jobs.job(self._selected_id) if self._selected_id is not None else None

    def _remember_selection(self) -> None:
        """Kept in Python: asking the selection model on every tick costs the window's thread the GIL
        round trips a running engine makes slow."""
        rows = self.table.selectionModel().selectedRows()
        row = self.bridge.jobs.job_at(rows[0].row()) if rows else None
        self._selected_id = row.job_id if row is not None else None
        self.update_buttons()

    def update_buttons(self) -> None:
        row = self.selected()
        # Which verbs a state allows is the life-cycle table's to say (batchmill.core.lifecycle).
        allowed = [row is not None and row.state.allows(verb, row.failed) for verb in BUTTON_VERBS]
        wanted = (*allowed, row is not None, row is not None)
        if wanted == self._buttons_shown:
            return  # called every tick while a job runs: touch Qt only when a button changes
        self._buttons_shown = wanted
        buttons = (self.pause_button, self.resume_button, self.cancel_button, self.retry_button,
                   self.remove_button, self.details_button, self.open_button)
        for button, enabled in zip(buttons, wanted):
            button.setEnabled(enabled)
        self.remove_more_button.setEnabled(wanted[4])
        self.forget_action.setEnabled(row is not None and row.state.allows(Verb.FORGET))

    def _show_remove_menu(self, where: QPoint) -> None:
        if self.selected() is not None:
            remove, forget = self.context_menu.actions()[2:4]
            remove.setEnabled(self.remove_button.isEnabled())
            forget.setEnabled(self.forget_action.isEnabled())
            self.context_menu.popup(self.table.viewport().mapToGlobal(where))

    def rename_selected(self) -> None:
        """Open the editor on the selected job's name (Enter keeps it, Esc leaves the old one)."""
        row = self.selected()
        index = self.bridge.jobs.row_of(row.job_id) if row is not None else None
        if index is not None:
            cell = self.bridge.jobs.index(index, Column.NAME)
            self.table.setCurrentIndex(cell)
            self.table.setFocus()
            self.table.edit(cell)

    def forget_selected(self) -> bool:
        """Forget the selected job for good, after asking; True if it was forgotten."""
        row = self.selected()
        if row is None or not row.state.allows(Verb.FORGET):
            return False
        answer = QMessageBox.question(
            self, "Forget this job?",
            f"Forget “{row.name}” for good?\n\nIts record and its files' history are deleted from the journal, "
            "so it can no longer be resumed, retried or shown. Its outputs on disk stay.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel)
        if answer != QMessageBox.StandardButton.Yes:
            return False
        problem = self.bridge.forget(row.job_id)
        if problem is not None:
            self.problem.emit(problem)
        self.update_buttons()
        return problem is None

    def retry_selected(self) -> None:
        """Retry the failed files; when the job's script was edited since, ask first which code to
        run (``retry_box``): the job keeps the code it was made with unless told. Whether it was
        edited is read from the journal off the window's thread; the answer arrives in a moment."""
        row = self.selected()
        if row is None:
            return
        job_id, name = row.job_id, row.name
        self.bridge.check_code_changed(job_id, lambda changed: self._retry_or_ask(job_id, name, changed),
                                       lambda why: self.problem.emit(f"{name}: not retried: {why.splitlines()[0]}"))

    def _retry_or_ask(self, job_id: str, name: str, changed: bool) -> None:
        if not changed:
            self._retry(job_id, name, False)
            return
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("The script has changed")
        box.setText(f"The script of “{name}” has been edited since the job ran. Retry its failed files "
                    "with the script as it is now, or with the original code the job was made with?")
        box.setInformativeText("The current version becomes the job's code from then on.")
        current = box.addButton("Run the current version", QMessageBox.ButtonRole.AcceptRole)
        original = box.addButton("Run the original", QMessageBox.ButtonRole.ActionRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(current)

        def answered() -> None:
            if box.clickedButton() in (current, original):
                self._retry(job_id, name, box.clickedButton() is current)

        box.finished.connect(lambda _result: answered())
        self.retry_box = box
        box.open()

    def _retry(self, job_id: str, name: str, current_code: bool) -> None:
        try:
            self.bridge.retry(job_id, current_code)
        except JobError as exc:
            self.problem.emit(str(exc))
        else:
            which = "the script as it is now" if current_code else "the code the job was made with"
            self.notice.emit(f"{name}: retrying the failed files with {which}")
        self.update_buttons()

    def remove_selected(self) -> None:
        row = self.selected()
        if row is not None and self.bridge.remove(row.job_id):
            self.removed.emit(row.job_id)
        self.update_buttons()

    def _act(self, command: Callable[[str], object]) -> None:
        row = self.selected()
        if row is None:
            return
        try:
            command(row.job_id)
        except JobError as exc:
            self.problem.emit(str(exc))
        self.update_buttons()

    def _emit_for_selected(self, signal: SignalInstance) -> None:
        row = self.selected()
        if row is not None:
            signal.emit(row.job_id)
