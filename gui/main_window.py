"""The Batchmill window: inputs and what to do on top, the queue in the middle,
workers and the log below, overall progress in the status bar. Menus: File (add inputs,
load a script as a processor, start), Presets, Help (About, Self-test)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QAction, QCloseEvent, QDesktopServices, QDragEnterEvent, QDropEvent, QGuiApplication, QKeySequence, QResizeEvent,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QApplication, QFileDialog, QFrame, QGroupBox, QLabel, QMainWindow, QMessageBox, QProgressBar, QScrollArea,
    QSplitter, QSystemTrayIcon, QTabWidget, QVBoxLayout, QWidget,
)

from batchmill.core.events import JobState
from batchmill.core.journal import JobRecord
from batchmill.core.processors import ParamError, Processor, all_processors
from batchmill.gui.bridge import Bridge, JobError, summarize
from batchmill.gui.details_dialog import DetailsDialog
from batchmill.gui.formatting import describe_state, format_rate
from batchmill.gui.help_dialogs import AboutDialog, SelftestDialog, SelftestRunner
from batchmill.gui.inputs_panel import InputsPanel, accept_paths
from batchmill.gui.jobs_model import JobRow
from batchmill.gui.params_form import FormError
from batchmill.gui.presets_menu import PresetsMenu
from batchmill.gui.preview_dialog import PreviewDialog, open_preview
from batchmill.gui.queue_panel import QueuePanel
from batchmill.gui.resources import app_icon
from batchmill.gui.settings import Settings
from batchmill.gui.task_panel import TaskPanel
from batchmill.gui.views import ElidedLabel
from batchmill.gui.workers_panel import LogView, WorkersView

DEFAULT_SIZE = (1280, 800)
NOTIFY_MS = 15_000
STATUS_BAR_MARGINS = 40  # the status bar's own: its size grip, spacing and frame
QWIDGETSIZE_MAX = (1 << 24) - 1  # Qt's "no maximum" width
SAVE_AFTER_START_MS = 1000
SELFTEST_WAIT_AT_QUIT_S = 30.0
TABS_MIN_PAGE = 48
TOP_MIN_HEIGHT = 150  # the form's area at its smallest (it scrolls below its own size)
FIRST_SPLIT = (390, 190, 170)  # what to do / queue / workers and log, at the first start's 1280x800


class MainWindow(QMainWindow):
    all_jobs_finished = Signal()  # the last active job ended (for --exit-when-done)

    def __init__(self, bridge: Bridge, settings: Settings, processors: dict[str, Processor] | None = None) -> None:
        super().__init__()
        self.bridge = bridge
        self.settings = settings
        self.notifications: list[str] = []
        self.details: dict[str, DetailsDialog] = {}
        self.resume_box: QMessageBox | None = None
        self.offered: list[JobRecord] | None = None  # the jobs the start-up offer asked about, once read
        self.close_box: QMessageBox | None = None
        self.script_error_box: QMessageBox | None = None
        self.problem_box: QMessageBox | None = None
        self.about_dialog: AboutDialog | None = None
        self.selftest_dialog: SelftestDialog | None = None
        self.selftest_runner = SelftestRunner(self)
        self.opened_folders: list[str] = []
        self._closing = False
        self._fitted = False
        self._status_shown: tuple[str, int, bool] = ("", -1, False)
        self.setWindowTitle("Batchmill")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)  # a .py file dropped anywhere on the window becomes a processor

        self.inputs = InputsPanel()
        self.task = TaskPanel(processors or all_processors())
        self.queue = QueuePanel(bridge)
        self.workers_view = WorkersView(bridge.workers)
        self.log = LogView()
        self._build_layout()
        self._build_status_bar()
        self._build_menu()
        self.tray = self._make_tray()

        self.task.start_requested.connect(self.start_job)
        self.task.preview_requested.connect(self.preview_job)
        self.task.workers_changed.connect(bridge.set_workers)
        self.task.output_changed.connect(self.inputs.set_output)
        self.inputs.sample_changed.connect(lambda: self.task.set_sample(*self.inputs.sample()))
        self.inputs.scripts_dropped.connect(self.load_scripts)
        self.queue.details_requested.connect(self.show_details)
        self.queue.open_output_requested.connect(self.open_output)
        self.queue.problem.connect(self.notify)
        self.queue.notice.connect(self.notify)
        bridge.jobs_changed.connect(self.update_status)
        bridge.job_finished.connect(self._on_job_finished)
        bridge.log_lines.connect(self.log.add_lines)
        bridge.refused.connect(self._on_refused)
        self.queue.removed.connect(self.settings.hide_job)  # gone from the view, next time too
        self.restore_settings()
        bridge.load_history(self.settings.hidden_jobs())
        self.update_status()

    # -- layout -------------------------------------------------------------------
    def _build_layout(self) -> None:
        inputs_box = _group("Inputs", self.inputs)
        task_box = _group("What to do", self.task)
        self.top_splitter = QSplitter(Qt.Orientation.Horizontal)
        self.top_splitter.addWidget(inputs_box)
        self.top_splitter.addWidget(task_box)
        self.top_splitter.setStretchFactor(0, 1)
        self.top_splitter.setStretchFactor(1, 1)
        self.top_splitter.setChildrenCollapsible(False)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.workers_view, "Workers")
        self.tabs.addTab(self.log, "Log")
        for page in (self.workers_view, self.log):
            page.setMinimumHeight(TABS_MIN_PAGE)  # below its hint: a small window gives the queue its rows
        # On a small screen the form scrolls rather than squeezing the queue to one row.
        self.top_scroll = QScrollArea()
        self.top_scroll.setWidget(self.top_splitter)
        self.top_scroll.setWidgetResizable(True)
        self.top_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.top_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.top_scroll.setMinimumHeight(TOP_MIN_HEIGHT)
        self.main_splitter = QSplitter(Qt.Orientation.Vertical)
        self.main_splitter.addWidget(self.top_scroll)
        self.main_splitter.addWidget(_group("Queue", self.queue))
        self.main_splitter.addWidget(self.tabs)
        self.main_splitter.setChildrenCollapsible(False)
        # The form gets the most: a job's parameters read best without scrolling; the queue is short.
        self.main_splitter.setStretchFactor(0, 4)
        self.main_splitter.setStretchFactor(1, 2)
        self.main_splitter.setStretchFactor(2, 2)
        self.setCentralWidget(self.main_splitter)

    def _build_status_bar(self) -> None:
        # The latest notice on the left, what runs on the right; both cut their text with "…"
        # rather than run into each other (QStatusBar.showMessage drew the notice under the
        # summary at 800 px wide, the two reading as one line).
        self.notice_label = ElidedLabel()
        self.notice_timer = QTimer(self)
        self.notice_timer.setSingleShot(True)
        self.notice_timer.setInterval(NOTIFY_MS)
        self.notice_timer.timeout.connect(lambda: self.show_notice(""))
        self.statusBar().addWidget(self.notice_label, 1)
        self.status_label = ElidedLabel()
        self.overall_bar = QProgressBar()
        # Whole percent steps, set by show_overall_percent(): QProgressBar.setValue repaints
        # synchronously whenever the shown value moves.
        self.overall_bar.setRange(0, 100)
        self.overall_bar.setFixedWidth(220)
        self.overall_bar.setFormat("%p %")
        self.statusBar().addPermanentWidget(self.status_label)
        self.statusBar().addPermanentWidget(self.overall_bar)

    def _build_menu(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        for text, shortcut, slot in (("Add &folder…", "Ctrl+Shift+O", self.inputs.choose_folder),
                                     ("Add &files…", QKeySequence.StandardKey.Open, self.inputs.choose_files),
                                     ("&Load script…", "Ctrl+L", self.choose_script),
                                     ("&Start", "Ctrl+Return", self.start_job)):
            action = QAction(text, self)
            action.setShortcut(QKeySequence(shortcut))
            action.triggered.connect(slot)
            file_menu.addAction(action)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Quit))
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)
        self.presets_menu = PresetsMenu(self.task, self.inputs, self.settings.path.parent, self.notify, self)
        self.menuBar().addMenu(self.presets_menu)
        help_menu = self.menuBar().addMenu("&Help")
        self.about_action = QAction("&About Batchmill", self)
        self.about_action.triggered.connect(self.show_about)
        self.selftest_action = QAction("&Self-test…", self)
        self.selftest_action.setToolTip("Run a small job in worker processes to check this installation")
        self.selftest_action.triggered.connect(self.run_selftest)
        help_menu.addAction(self.about_action)
        help_menu.addAction(self.selftest_action)

    def _make_tray(self) -> QSystemTrayIcon | None:
        if not QSystemTrayIcon.isSystemTrayAvailable():
            return None
        tray = QSystemTrayIcon(app_icon(), self)
        tray.setToolTip("Batchmill")
        tray.show()
        return tray

    # -- scripts as processors -----------------------------------------------------------
    def choose_script(self) -> None:
        script, _ = QFileDialog.getOpenFileName(self, "Load a script as a processor", "",
                                                "Python files (*.py);;All files (*)")
        if script:
            self.load_scripts([script])

    def load_scripts(self, scripts: list[str]) -> Processor | None:
        """Each script's ``process`` function becomes a processor (the last one is selected);
        a script that cannot be used says why in a dialog. Returns the last one loaded."""
        loaded: Processor | None = None
        problems = []
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)  # the script runs here to be inspected
        try:
            for script in scripts:
                try:
                    loaded = self.task.load_script(Path(script))
                except ParamError as exc:
                    problems.append(str(exc))
                    continue
                self.notify(f"Loaded {loaded.name} from {script} as a processor")
        finally:
            QApplication.restoreOverrideCursor()
        if problems:
            self.show_script_problems(problems)
        return loaded

    def show_script_problems(self, problems: list[str]) -> QMessageBox:
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("The script cannot be used")
        box.setText("\n\n".join(problems))
        box.setInformativeText("A script needs a function process(src: Path, dst: Path, ...) that reads src and "
                               "writes dst; its other parameters, with type hints and defaults, become the form.")
        box.setStandardButtons(QMessageBox.StandardButton.Close)
        self.script_error_box = box
        box.open()
        return box

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        accept_paths(event)

    def dropEvent(self, event: QDropEvent) -> None:
        """Dropped outside the inputs list: scripts load, anything else becomes an input all the same."""
        paths = accept_paths(event)
        if paths:
            self.inputs.take_drop(paths)

    # -- jobs -------------------------------------------------------------------------
    def start_job(self) -> str | None:
        """Queue a job from what the window shows; returns its id, or None (the reason is shown)."""
        try:
            spec = self.task.build_spec(self.inputs.inputs(), self.inputs.include(), self.inputs.exclude(),
                                        self.inputs.recursive())
            spec = spec.with_changes(ignore_case=self.inputs.ignore_case())
        except FormError:
            if not self.task.message.isVisible():
                self.task.show_message("Fix the value marked in red above.")
            return None
        except ValueError as exc:
            self.task.show_message(str(exc))
            return None
        counts = [self.inputs.count_of(path) for path in self.inputs.inputs()]
        counted = sum(c for c in counts if c is not None) if counts and None not in counts else None
        try:
            job_id = self.bridge.submit(spec, counted)  # the count stands as the total while the job scans
        except JobError as exc:
            self.task.show_message(f"The job cannot start: {exc}")
            return None
        self.queue.select(job_id)
        # Later, not inside the click: writing the INI takes a busy window's thread 10-20 ms.
        QTimer.singleShot(SAVE_AFTER_START_MS, self.save_settings)
        return job_id

    def _on_refused(self, _job_id: str, verb: str, message: str) -> None:
        if verb == "start":  # the journal would not take the new job (the engine wrote it off this thread)
            self.task.show_message(f"The job cannot start: {message}")
            self.update_status()
        else:
            self.notify(f"Cannot {verb}: {message}")

    def preview_job(self) -> PreviewDialog | None:
        """Show what Start would do to every file (its Start button queues the job)."""
        try:
            spec = self.task.build_spec(self.inputs.inputs(), self.inputs.include(), self.inputs.exclude(),
                                        self.inputs.recursive())
        except FormError:
            return None
        except ValueError as exc:
            self.task.show_message(str(exc))
            return None
        return open_preview(spec, self.bridge.engine.journal.home, self.start_job, self)

    def resume_job(self, job_id: str, record: JobRecord | None = None) -> None:
        try:
            self.bridge.resume(job_id, record)
        except JobError as exc:
            self.notify(f"Cannot resume: {exc}")
            return
        self.queue.select(job_id)

    def show_details(self, job_id: str) -> DetailsDialog:
        dialog = self.details.get(job_id)
        if dialog is None:
            dialog = DetailsDialog(self.bridge, job_id, self)
            self.details[job_id] = dialog
        else:
            dialog.reload()
        dialog.show()
        dialog.raise_()
        return dialog

    def open_output(self, job_id: str) -> None:
        row = self.bridge.jobs.job(job_id)
        if row is None:
            return
        folder = row.output
        if not os.path.isdir(folder):
            self.notify(f"The output folder {folder} does not exist yet.")
            return
        self.opened_folders.append(folder)
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(folder)):
            self.show_problem("The folder cannot be opened",
                              f"No file manager could be started to open the output folder:\n{folder}",
                              "Open it yourself, or install a desktop file manager (xdg-open).")

    def show_problem(self, title: str, text: str, detail: str = "") -> QMessageBox:
        """Something the window could not do, said in the window (not only on stderr, which a
        desktop launch shows nobody)."""
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle(title)
        box.setText(text)
        box.setInformativeText(detail)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.setStandardButtons(QMessageBox.StandardButton.Close)
        self.problem_box = box
        box.open()
        return box

    def _on_job_finished(self, job_id: str) -> None:
        row = self.bridge.jobs.job(job_id)
        if row is not None:
            self.notify(summarize(row), title=f"Batchmill: job {describe_state(row.state)}")
        self.update_status()
        if not self.bridge.active_jobs():
            self.all_jobs_finished.emit()

    def notify(self, message: str, title: str = "Batchmill") -> None:
        """A message in the status bar, and as a system tray message where there is a tray."""
        self.notifications.append(message)
        self.show_notice(message)
        self.notice_timer.start()
        if self.tray is not None and QSystemTrayIcon.supportsMessages():
            self.tray.showMessage(title, message, app_icon(), NOTIFY_MS)

    def show_notice(self, message: str) -> None:
        self.notice_label.setText(message)
        self.fit_status_line()

    def fit_status_line(self) -> None:
        """Share the status bar's width between the notice and the summary of what runs: the
        summary keeps the width it needs unless that leaves the notice under half; each cuts its
        text with "…" where it must (never drawn over one another)."""
        room = self.statusBar().width() - STATUS_BAR_MARGINS
        if self.overall_bar.isVisible():
            room -= self.overall_bar.width()
        notice = self.notice_label.sizeHint().width() if self.notice_label.text() else 0
        self.status_label.setMaximumWidth(max(room // 2, room - notice) if notice else QWIDGETSIZE_MAX)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.fit_status_line()

    def update_status(self) -> None:
        """The status bar sums up the active jobs only (running, paused, queued): finished ones are
        in the queue's rows, and counting them made the figure read 95 % with the only running
        job at 68 %."""
        rows = self.bridge.jobs.jobs()
        active = [r for r in rows if r.is_active]
        if not rows:
            shown: tuple[str, int, bool] = ("No jobs yet", 0, False)
        elif not active:
            shown = (self._finished_status([r for r in rows if not r.from_history]), 0, False)
        else:
            shown = self._active_status(active)
        if shown == self._status_shown:
            return  # called every tick while a job runs: touch Qt only for a change a person can see
        self._status_shown = shown
        self.status_label.setText(shown[0])
        self.show_overall_percent(shown[1])
        self.overall_bar.setVisible(shown[2])
        self.fit_status_line()

    @staticmethod
    def _finished_status(session: list[JobRow]) -> str:
        """No bar and no percentage once nothing runs: what this session's jobs came to."""
        if not session:
            return "No job running"
        text = "All jobs finished" if all(r.state is JobState.COMPLETED for r in session) else "No job running"
        failed = sum(r.failed for r in session)
        return text + f" · {sum(r.finished_files for r in session):,} files" + (f" · {failed:,} failed" if failed else "")

    @staticmethod
    def _active_status(active: list[JobRow]) -> tuple[str, int, bool]:
        running = [r for r in active if r.state in (JobState.RUNNING, JobState.PLANNING)]
        paused = sum(1 for r in active if r.state is JobState.PAUSED)
        queued = sum(1 for r in active if r.state is JobState.QUEUED)
        parts = [f"{len(running)} running" if running else "", f"{paused} paused" if paused else "",
                 f"{queued} queued" if queued else ""]
        totals = [r.progress.total for r in active]
        finished = sum(r.finished_files for r in active)
        failed = sum(r.failed for r in active)
        known = None not in totals
        total = sum(t for t in totals if t is not None)
        text = " · ".join(p for p in parts if p)
        text += f" · {finished:,} of {total:,} files" if known else f" · {finished:,} files done, scanning…"
        text += f" · {failed:,} failed" if failed else ""
        rate = sum(r.files_per_s for r in running if r.state is JobState.RUNNING)
        text += f" · {format_rate(rate)} files/s" if rate > 0 else ""
        return text, 100 * finished // total if known and total else 0, known and total > 0

    def show_overall_percent(self, percent: int) -> None:
        """QProgressBar.setValue paints the bar at once, and flushing the window for it cost ~6 ms
        each time, a tenth of the window's CPU during a job. With updates off while the value
        changes, re-enabling them asks for an ordinary repaint, made with the tick's others."""
        bar = self.overall_bar
        bar.setUpdatesEnabled(False)
        bar.setValue(percent)
        bar.setUpdatesEnabled(True)

    # -- start-up resume offer ----------------------------------------------------------
    def offer_resume(self) -> None:
        """If the journal holds jobs that stopped without the operator's choice (interrupted,
        halted), ask whether to resume them: every one of them, not only the newest. They are
        read off the window's thread; ``offered`` is set when they have been (and ``resume_box``
        is the question, if there is one). Declined jobs are not asked about again; they stay in
        the history."""
        self.offered = None
        self.resume_box = None

        def failed(why: str) -> None:
            self.log.add_lines([("error", f"the jobs to resume could not be read: {why}")])
            self.offered = []

        self.bridge.read_offered(self._offer, failed)

    def _offer(self, offered: list[JobRecord]) -> None:
        declined = self.settings.declined_resumes()
        jobs = [job for job in offered if job.id not in declined]
        self.offered = jobs
        if not jobs:
            return
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        if len(jobs) == 1:
            job = jobs[0]
            box.setWindowTitle("Resume the interrupted job?")
            box.setText(f"The job “{job.name}” did not finish: it was {describe_state(job.shown_state)} "
                        f"with {job.done + job.skipped:,} of {job.total:,} files done.")
            box.setInformativeText("Resume it now? Files already done are not processed again.")
            resume = box.addButton("Resume", QMessageBox.ButtonRole.AcceptRole)
        else:
            box.setWindowTitle("Resume the interrupted jobs?")
            lines = [f"• “{job.name}”: {describe_state(job.shown_state)} with {job.done + job.skipped:,} "
                     f"of {job.total:,} files done" for job in jobs]
            box.setText(f"{len(jobs)} jobs did not finish:\n" + "\n".join(lines))
            box.setInformativeText("Resume them all now, one after another? Files already done are not "
                                   "processed again. Each can also be resumed from the queue.")
            resume = box.addButton("Resume all", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Not now", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(resume)
        box.finished.connect(lambda _result: self._on_resume_answer(box, resume, jobs))
        self.resume_box = box
        box.open()

    def _on_resume_answer(self, box: QMessageBox, resume: Any, jobs: list[JobRecord]) -> None:
        for job in jobs:
            if box.clickedButton() is resume:
                self.resume_job(job.id, job)
            else:
                self.settings.decline_resume(job.id)

    # -- closing ------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        if self._closing:
            event.accept()
            return
        active = self.bridge.active_jobs()
        if active:
            event.ignore()
            self.ask_to_close(len(active))
            return
        self.quit_now()
        event.accept()

    def ask_to_close(self, active: int) -> QMessageBox:
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Jobs are still running")
        noun = "job is" if active == 1 else "jobs are"
        box.setText(f"{active} {noun} still running or queued.")
        box.setInformativeText("Quit anyway? Running work stops now; you can resume it the next time "
                               "you open Batchmill.")
        quit_button = box.addButton("Stop jobs and quit", QMessageBox.ButtonRole.DestructiveRole)
        keep = box.addButton("Keep running", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(keep)
        box.finished.connect(lambda _result: self._on_close_answer(box, quit_button))
        self.close_box = box
        box.open()
        return box

    def _on_close_answer(self, box: QMessageBox, quit_button: Any) -> None:
        if box.clickedButton() is quit_button:
            self.quit_now()
            self.close()

    def quit_now(self) -> None:
        """Save settings, stop counting, and shut the engine down (no process left). Safe to call twice."""
        if self._closing:
            return
        self._closing = True
        self.save_settings()
        self.inputs.stop()
        for dialog in self.details.values():
            dialog.close()
        self.selftest_runner.wait(SELFTEST_WAIT_AT_QUIT_S)  # its workers end with it, not as orphans
        self.bridge.shutdown()
        if self.tray is not None:
            self.tray.hide()

    # -- settings -----------------------------------------------------------------------------
    def fit_to_screen(self) -> None:
        """A restored (or default) geometry always fits the screen's available area: saved at one
        scale factor and restored at another (QT_SCALE_FACTOR=2), 1280x800 became 2560x1600 on a
        1920x1080 screen, with Start and the queue off it."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        if screen is None:
            return
        available = screen.availableGeometry()
        if self.isMaximized() or self.isFullScreen():
            return
        frame = self.frameGeometry()
        extra_w, extra_h = frame.width() - self.width(), frame.height() - self.height()  # title bar, borders
        width = min(self.width(), available.width() - extra_w)
        height = min(self.height(), available.height() - extra_h)
        if (width, height) != (self.width(), self.height()):
            self.resize(max(width, 1), max(height, 1))
        frame = self.frameGeometry()
        x = min(max(frame.x(), available.left()), available.right() + 1 - frame.width())
        y = min(max(frame.y(), available.top()), available.bottom() + 1 - frame.height())
        if (x, y) != (frame.x(), frame.y()):
            self.move(max(x, available.left()), max(y, available.top()))

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._fitted:  # once shown, the frame's size (title bar, borders) is known: fit again
            self._fitted = True
            self.fit_to_screen()

    def restore_settings(self) -> None:
        geometry = self.settings.geometry()
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(*DEFAULT_SIZE)
        self.fit_to_screen()
        splitters = self.settings.splitters()
        if not splitters:
            self.main_splitter.setSizes(first_split(self.height(), self.top_splitter.minimumSizeHint().height()))
        for splitter, state in zip((self.main_splitter, self.top_splitter), splitters):
            splitter.restoreState(state)
        self.restore_scripts()
        self.task.restore(self.settings.processor(), self.settings.params())
        if self.settings.output():
            self.task.set_output(self.settings.output())
        workers = self.settings.workers()
        if workers:
            self.task.workers_spin.setValue(workers)
        self.task.names.set_template(self.settings.name_template())
        self.task.retries_spin.setValue(self.settings.retries())
        self.task.backend.set_backend(*self.settings.backend())
        self.task.set_provenance(self.settings.provenance())

    def restore_scripts(self) -> None:
        """Scripts loaded last time are processors again (a script gone or broken since is left out)."""
        for script, function in self.settings.scripts():
            if not os.path.isfile(script):
                continue
            try:
                self.task.load_script(Path(script), function, select=False)
            except ParamError as exc:
                self.log.add_lines([("warning", f"not loaded again: {exc}")])

    def save_settings(self) -> None:
        self.settings.save(
            geometry=self.saveGeometry(), splitters=[self.main_splitter.saveState(), self.top_splitter.saveState()],
            output=self.task.output(), workers=self.task.workers(), processor=self.task.processor_name(),
            params=self.task.all_params(), name_template=self.task.names.edit.text().strip(),
            retries=self.task.retries(), backend=self.task.backend.backend(),
            scheduler=self.task.backend.address.text().strip(), scripts=self.task.scripts(),
            provenance=self.task.provenance())

    # -- help ----------------------------------------------------------------------------------
    def show_about(self) -> AboutDialog:
        if self.about_dialog is None:
            self.about_dialog = AboutDialog(self.bridge.start_method(), self.settings.path.parent, self)
        self.about_dialog.show()
        self.about_dialog.raise_()
        return self.about_dialog

    def run_selftest(self) -> SelftestDialog:
        """Start the self-test in the background (once at a time) and show its dialog."""
        if self.selftest_dialog is None:
            self.selftest_dialog = SelftestDialog(self.selftest_runner, self)
        if not self.selftest_runner.running():
            self.selftest_dialog.start()
        self.selftest_dialog.show()
        self.selftest_dialog.raise_()
        return self.selftest_dialog


def first_split(height: int, form: int) -> list[int]:
    """The first start's heights of form / queue / workers and log: FIRST_SPLIT at 1280x800; in a
    smaller window the form keeps its own height (``form``: Start stays in sight), the queue most
    of the rest and the workers and log the remainder."""
    if height >= DEFAULT_SIZE[1]:
        return list(FIRST_SPLIT)
    usable = max(height - 110, 300)  # menu, status bar, the splitter's handles
    rest = max(usable - form, 200)
    return [usable - rest, rest * 2 // 3, rest - rest * 2 // 3]


def _group(title: str, content: QWidget) -> QGroupBox:
    box = QGroupBox(title)
    box.setStyleSheet("QGroupBox { font-weight: bold; }")
    content.setStyleSheet("font-weight: normal;")  # only the title is bold
    layout = QVBoxLayout(box)
    layout.setContentsMargins(8, 6, 8, 8)
    layout.addWidget(content)
    return box
