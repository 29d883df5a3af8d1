"""The preview before Start: what the job would do to every file (the core's preview, the
verdicts of ``batchmill run --dry-run``), shown while the inputs are scanned.

The scan runs on a thread of its own (``PreviewScan``), which keeps the counts and a bounded
sample of files; the dialog reads them on a QTimer, so a folder of 200,000 files neither
freezes the window nor fills it with 200,000 rows. Start is offered once the scan is done
and no two inputs claim one output.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QBrush, QColor
from PySide6.QtCore import QModelIndex, QPersistentModelIndex
from PySide6.QtWidgets import (
    QDialog, QDialogButtonBox, QHeaderView, QLabel, QPushButton, QStyleOptionViewItem, QStyledItemDelegate,
    QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget,
)

from batchmill.core.estimate import Estimate
from batchmill.core.journal import Journal
from batchmill.core.preview import VERDICT_ORDER, FileVerdict, PreviewError, Tally, Verdict, checked_set_up, iter_preview
from batchmill.core.spec import JobSpec

SAMPLE_ROWS = 200  # the first files, whatever their verdict, with full paths
PROBLEM_ROWS = 500  # collisions and refusals, all of them up to this many
POLL_MS = 50
PROBLEM_COLOR = QColor("#b00020")
QUIET_COLOR = QColor("#707070")
WORDS = {
    Verdict.NEW: "New: will run",
    Verdict.CHANGED: "Changed: will run again",
    Verdict.REPLACE: "Will replace the output",
    Verdict.RENAME: "Will be written under a free name",
    Verdict.UP_TO_DATE: "Up to date: not run",
    Verdict.KEEP: "Output exists, kept: not run",
    Verdict.COLLISION: "Collision: another input writes the same output",
    Verdict.REFUSED: "Refused: its output would land on an input",
    Verdict.EXCLUDED: "Excluded by a pattern",
    Verdict.SCAN_SKIPPED: "Skipped by the scanner",
}


class PreviewScan:
    """The preview on a thread: counts, a sample and the problems, read by the dialog's timer."""

    def __init__(self, spec: JobSpec, home: Path) -> None:
        self.spec = spec
        self.home = home
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.tally = Tally()
        self.sample: list[FileVerdict] = []
        self.problems: list[FileVerdict] = []
        self.error: str | None = None
        self.estimate: Estimate | None = None
        self.done = False
        self._thread = threading.Thread(target=self._run, name="batchmill-preview", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def snapshot(self) -> tuple[Counter[Verdict], int, list[FileVerdict], list[FileVerdict], bool]:
        """(counts, files to run, the sample so far, the problems so far, done)."""
        with self._lock:
            return Counter(self.tally.counts), self.tally.to_run, list(self.sample), list(self.problems), self.done

    def _run(self) -> None:
        journal = Journal(self.home)
        try:
            setup = checked_set_up(self.spec, journal)
            for verdict in iter_preview(setup):
                if self._stop.is_set():
                    return
                with self._lock:
                    self.tally.add(verdict)
                    if len(self.sample) < SAMPLE_ROWS:
                        self.sample.append(verdict)
                    if verdict.verdict in (Verdict.COLLISION, Verdict.REFUSED) and len(self.problems) < PROBLEM_ROWS:
                        self.problems.append(verdict)
            self.estimate = setup.estimate(self.tally)
        except PreviewError as exc:
            self.error = str(exc)
        except OSError as exc:
            self.error = f"the inputs could not be scanned: {exc}"
        finally:
            journal.close()
            with self._lock:
                self.done = True


class PreviewDialog(QDialog):
    """Counts by verdict, collisions to fix, a sample of destinations, the estimate; Start."""

    def __init__(self, spec: JobSpec, home: Path, start: Callable[[], object] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Preview: {spec.name}")
        self.resize(980, 640)
        self._start = start
        self.scan = PreviewScan(spec, home)
        self.headline = QLabel("Scanning the inputs…")
        self.headline.setStyleSheet("font-weight: bold")
        self.counts = _tree(["What happens", "Files"], (420, 110))
        self.counts.header().setStretchLastSection(False)
        self.estimate_label = QLabel("")
        self.problems_label = QLabel("Collisions to fix")
        self.problems_label.setStyleSheet(f"color: {PROBLEM_COLOR.name()}; font-weight: bold")
        self.problems = _tree(["Input", "Output", "Why"], (330, 330))
        self.problems.setMaximumHeight(140)
        self.sample_label = QLabel(f"The first {SAMPLE_ROWS} files")
        self.sample = _tree(["Verdict", "Input", "Output", "Why"], (100, 320, 320))
        self.buttons = QDialogButtonBox()
        self.start_button: QPushButton = self.buttons.addButton("Start", QDialogButtonBox.ButtonRole.AcceptRole)
        self.start_button.setEnabled(False)
        self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.buttons.accepted.connect(self._on_start)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for widget in (self.headline, self.counts, self.estimate_label, self.problems_label, self.problems,
                       self.sample_label, self.sample, self.buttons):
            layout.addWidget(widget)
        self.problems_label.hide()
        self.problems.hide()
        self._shown = (0, 0, -1)
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.refresh)
        self.scan.start()
        self.timer.start()

    # -- reading the scan -----------------------------------------------------------------
    def refresh(self) -> None:
        counts, to_run, sample, problems, done = self.scan.snapshot()
        files = sum(n for v, n in counts.items() if v not in (Verdict.EXCLUDED, Verdict.SCAN_SKIPPED))
        self._show_counts(counts)
        self._add_rows(self.sample, sample, self._shown[0], lambda v: [v.verdict.value, v.input or "",
                                                                       v.destination, v.reason])
        self._add_rows(self.problems, problems, self._shown[1], lambda v: [v.input or "", v.destination, v.reason])
        self._shown = (len(sample), len(problems), sum(counts.values()))
        if problems:
            many = counts[Verdict.COLLISION] + counts[Verdict.REFUSED]
            self.problems_label.setText(f"{many:,} {'collision' if many == 1 else 'collisions'} to fix: "
                                        "the job cannot start")
            self.problems_label.show()
            self.problems.show()
        if not done:
            self.headline.setText(f"Scanning the inputs… {files:,} files so far, {to_run:,} to run")
            return
        self.timer.stop()
        if self.scan.error is not None:
            self.headline.setText(f"The job cannot start: {self.scan.error}")
            self.headline.setStyleSheet(f"font-weight: bold; color: {PROBLEM_COLOR.name()}")
            return
        blocked = counts[Verdict.COLLISION] + counts[Verdict.REFUSED]
        self.headline.setText(f"{files:,} files: {to_run:,} to run, {files - to_run - blocked:,} not"
                              + (f", {blocked:,} in the way" if blocked else ""))
        guess = self.scan.estimate
        self.estimate_label.setText(guess.line().capitalize() if guess is not None else
                                    "No estimate yet: no earlier job of this processor in the journal.")
        self.start_button.setEnabled(not problems and to_run > 0)

    def _show_counts(self, counts: Counter[Verdict]) -> None:
        self.counts.clear()
        for verdict in VERDICT_ORDER:
            if counts[verdict]:
                item = QTreeWidgetItem([WORDS[verdict], f"{counts[verdict]:,}"])
                item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                _color(item, verdict)
                self.counts.addTopLevelItem(item)
        rows = max(1, self.counts.topLevelItemCount())
        row_height = self.counts.sizeHintForRow(0) if self.counts.topLevelItemCount() else 18
        self.counts.setFixedHeight(self.counts.header().sizeHint().height() + rows * row_height
                                   + 2 * self.counts.frameWidth() + 2)

    @staticmethod
    def _add_rows(tree: QTreeWidget, verdicts: list[FileVerdict], shown: int,
                  columns: Callable[[FileVerdict], list[str]]) -> None:
        for verdict in verdicts[shown:]:
            item = QTreeWidgetItem(columns(verdict))
            for column in range(1, tree.columnCount()):
                item.setToolTip(column, item.text(column))
            _color(item, verdict.verdict)
            tree.addTopLevelItem(item)

    def counts_shown(self) -> dict[str, int]:
        """verdict -> files, as the table shows them (for tests and people alike)."""
        words = {w: v.value for v, w in WORDS.items()}
        found = {}
        for i in range(self.counts.topLevelItemCount()):
            item = self.counts.topLevelItem(i)
            if item is not None:
                found[words[item.text(0)]] = int(item.text(1).replace(",", ""))
        return found

    # -- closing ------------------------------------------------------------------------
    def _on_start(self) -> None:
        self.accept()
        if self._start is not None:
            self._start()

    def done(self, result: int) -> None:  # noqa: D401 - QDialog's own name
        self.timer.stop()
        self.scan.stop()
        super().done(result)


def _tree(headers: list[str], widths: tuple[int, ...] = ()) -> QTreeWidget:
    tree = QTreeWidget()
    tree.setHeaderLabels(headers)
    tree.setRootIsDecorated(False)
    tree.setUniformRowHeights(True)  # thousands of rows stay cheap to lay out
    tree.setAlternatingRowColors(True)
    tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # a long path keeps its file name in sight
    tree.header().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    tree.header().setStretchLastSection(True)
    for column, width in enumerate(widths):
        tree.setColumnWidth(column, width)
    tree.setItemDelegateForColumn(len(headers) - 1, _ElideRight(tree))  # the reason: read from its start
    return tree


class _ElideRight(QStyledItemDelegate):
    def initStyleOption(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideRight


def _color(item: QTreeWidgetItem, verdict: Verdict) -> None:
    if verdict in (Verdict.COLLISION, Verdict.REFUSED):
        color = PROBLEM_COLOR
    elif not verdict.runs:
        color = QUIET_COLOR
    else:
        return
    for column in range(item.columnCount()):
        item.setForeground(column, QBrush(color))


def open_preview(spec: JobSpec, home: Path, start: Callable[[], object], parent: QWidget) -> PreviewDialog:
    """Show the preview of ``spec`` (non-modal: the window stays live); ``start`` queues the job."""
    dialog = PreviewDialog(spec, home, start, parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog
