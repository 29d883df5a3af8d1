"""The preview before Start: what the job would do to every file (the core's preview, the
verdicts of ``batchmill run --dry-run``), shown while the inputs are scanned.

The scan runs on a thread of its own (``PreviewScan``), which keeps the counts and a bounded
sample of files; the dialog reads them on a QTimer, so a folder of 200,000 files neither
freezes the window nor fills it with 200,000 rows. Start is offered once the scan is done
and no two inputs claim one output.

Without history in the journal there is no estimate until the operator asks for one: "Time a
sample" runs a few of the files (``batchmill.core.sample``) on another thread of the scan's,
read by the same timer; closing the dialog stops it.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QBrush, QColor
from PySide6.QtCore import QModelIndex, QPersistentModelIndex
from PySide6.QtWidgets import (
    QDialog, QDialogButtonBox, QHBoxLayout, QHeaderView, QLabel, QPushButton, QStyleOptionViewItem, QStyledItemDelegate,
    QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget,
)

from batchmill.core.estimate import Estimate
from batchmill.core.journal import Journal
from batchmill.core.preview import (
    VERDICT_ORDER, FileVerdict, PreviewError, PreviewSetup, Tally, Verdict, checked_set_up, iter_preview, picker_for,
    sample_note, sampled_estimate,
)
from batchmill.core.sample import SAMPLE_BUDGET_S, SAMPLE_FILES, SamplePicker, SampleRun
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
        self._setup: PreviewSetup | None = None
        self._picker: SamplePicker | None = None  # files to time, kept while there is no history
        self.sampling = False
        self.sample_run: SampleRun | None = None  # once a sample was timed
        self._sampler: threading.Thread | None = None

    @property
    def can_sample(self) -> bool:
        """No estimate from history, files to run and none in the way: a sample can be timed."""
        return (self.done and self.error is None and self.estimate is None and self._picker is not None
                and self.tally.to_run > 0 and not self.tally.collisions and self.sample_run is None)

    def start_sample(self) -> None:
        """Time a few files (on a thread of its own); ``sampling`` is False again when it is over."""
        if not self.can_sample or self.sampling:
            return
        self.sampling = True
        self._sampler = threading.Thread(target=self._time_sample, name="batchmill-preview-sample", daemon=True)
        self._sampler.start()

    def _time_sample(self) -> None:
        assert self._setup is not None and self._picker is not None
        try:
            guess, run = sampled_estimate(self._setup, self._picker, self.tally, self._stop.is_set)
        except Exception as exc:  # noqa: BLE001 - the processor's payload, the scratch folder: told, not raised
            guess, run = None, SampleRun([], False, f"{type(exc).__name__}: {exc}")
        with self._lock:
            self.estimate, self.sample_run, self.sampling = guess, run, False

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        if self._sampler is not None:
            self._sampler.join(timeout=10)  # it polls the stop every 0.1 s, then stops its worker

    def snapshot(self) -> tuple[Counter[Verdict], int, list[FileVerdict], list[FileVerdict], bool]:
        """(counts, files to run, the sample so far, the problems so far, done)."""
        with self._lock:
            return Counter(self.tally.counts), self.tally.to_run, list(self.sample), list(self.problems), self.done

    def _run(self) -> None:
        journal = Journal(self.home)
        try:
            setup = checked_set_up(self.spec, journal)
            self._setup = setup
            picker = self._picker = picker_for(setup, sample=True)
            for verdict in iter_preview(setup):
                if self._stop.is_set():
                    return
                if picker is not None and verdict.verdict.runs and verdict.input is not None:
                    picker.add(verdict.input, verdict.output, verdict.size)
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
        self.estimate_label.setWordWrap(True)
        self.sample_button = QPushButton("Time a sample")
        self.sample_button.setToolTip(f"Run up to {SAMPLE_FILES} of these files (about {SAMPLE_BUDGET_S:g} s at "
                                      "most) into a scratch folder, never the output folder, and estimate the "
                                      "whole job from their times")
        self.sample_button.clicked.connect(self._on_sample)
        self.sample_button.hide()
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
        estimate_row = QHBoxLayout()
        estimate_row.addWidget(self.estimate_label, 1)
        estimate_row.addWidget(self.sample_button)
        layout.addWidget(self.headline)
        layout.addWidget(self.counts)
        layout.addLayout(estimate_row)
        rest: tuple[QWidget, ...] = (self.problems_label, self.problems, self.sample_label, self.sample, self.buttons)
        for widget in rest:
            layout.addWidget(widget)
        self.problems_label.hide()
        self.problems.hide()
        self._shown = (0, 0, -1)
        self._scan_shown = False  # the whole scan is on screen: a timed sample is all that may come
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.refresh)
        self.scan.start()
        self.timer.start()

    # -- reading the scan -----------------------------------------------------------------
    def refresh(self) -> None:
        if self._scan_shown:
            self._show_estimate()
            return
        counts, to_run, sample, problems, done = self.scan.snapshot()
        files = sum(n for v, n in counts.items() if v not in (Verdict.EXCLUDED, Verdict.SCAN_SKIPPED))
        self._show_counts(counts)
        self._add_rows(self.sample, sample, self._shown[0], lambda v: [v.verdict.value, v.input or "",
                                                                       _destination(v), v.reason])
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
        listed, entries = len(sample), sum(counts.values())
        self.sample_label.setText(f"All {entries:,} files" if listed == entries
                                  else f"The first {listed:,} of {entries:,} files")
        self._scan_shown = True
        self._show_estimate()
        self.start_button.setEnabled(not problems and to_run > 0)

    def _show_estimate(self) -> None:
        scan = self.scan
        if scan.sampling:
            self.estimate_label.setText(f"Timing a sample of up to {SAMPLE_FILES} files…")
            return
        self.timer.stop()
        guess, run = scan.estimate, scan.sample_run
        self.sample_button.setVisible(scan.can_sample)
        self.sample_button.setEnabled(True)
        if guess is not None:
            self.estimate_label.setText(_sentence(guess.line() + (sample_note(run) if run is not None else "")))
        elif run is not None:
            self.estimate_label.setText(f"No estimate: the sample could not be timed ({run.error}).")
        else:
            self.estimate_label.setText("No estimate yet: no earlier job of this processor in the journal. "
                                        "Time a sample to run a few of these files and estimate from them.")

    def _on_sample(self) -> None:
        self.sample_button.setEnabled(False)
        self.scan.start_sample()
        self.estimate_label.setText(f"Timing a sample of up to {SAMPLE_FILES} files…")
        self.timer.start()

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


def _destination(verdict: FileVerdict) -> str:
    """Where the output goes, and its provenance sidecar beside it (``--provenance sidecar``)."""
    if verdict.sidecar is None:
        return verdict.destination
    return f"{verdict.destination}  (+ {os.path.basename(verdict.sidecar)})"


def _sentence(line: str) -> str:
    return line[:1].upper() + line[1:]


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
