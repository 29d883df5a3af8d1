"""The one place where the GUI meets the engine.

    engine thread ──events (SimpleQueue)──▶ Bridge._drain (QTimer, GUI thread)
                                              │ bounded batch per tick, coalesced
                                              ├─▶ JobsModel / WorkersModel (dataChanged once per tick)
                                              └─▶ typed signals: jobs_changed, job_finished,
                                                  failures_added, log_lines
    widgets ──bridge.submit/pause/resume/cancel/retry/remove/set_workers──▶ Engine

Widgets never hold the engine: they call the bridge, and they learn what
happened from the models and signals. The engine never calls into Qt; it only
fills its queue, and the timer drains it at the window's pace. The drain is
bounded (by count and by time) so a burst of 100,000 tiny-file events costs a
few ticks of catching up, never a frozen window.
"""

from __future__ import annotations

import queue
import time
from pathlib import Path
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from PySide6.QtCore import QObject, QTimer, Signal

from batchmill.core.engine import Engine, JobError
from batchmill.core.events import (
    EngineStopped, Event, FileFailed, FileProgress, FileStarted, FileStatus, JobFinished, JobProgress, JobQueued,
    JobForgotten, JobStarted, JobState, JobStateChanged, Log, VerbRefused, WorkerExited, WorkerStatus,
)
from batchmill.core.exit_status import EXIT_NO_FILES, exit_status
from batchmill.core.history import JournalReader
from batchmill.core.journal import FileRecord, JobRecord
from batchmill.core.journal_trouble import JournalError
from batchmill.core.prepare import code_changed
from batchmill.core.lifecycle import Verb
from batchmill.core.processors.python_script import script_processor_name
from batchmill.core.spec import JobSpec
from batchmill.gui.formatting import describe_state, format_duration
from batchmill.gui.history import HistoryLoader
from batchmill.gui.journal_reads import JournalReads
from batchmill.gui.jobs_model import JobRow, JobsModel
from batchmill.gui.workers_model import WorkersModel

if TYPE_CHECKING:
    from concurrent.futures import Future

TICK_MS = 50
MAX_EVENTS_PER_TICK = 5000  # ~4x the event rate of tiny files on a fast machine, per tick
TICK_BUDGET_S = 0.02  # leave most of each tick to painting and input
BUDGET_CHECK_EVERY = 256
KEPT_FAILURES_PER_JOB = 10_000
CLOCK_REFRESH_S = 0.25  # the workers' "on it for" clocks, when nothing else changed
LOG_LINES_PER_TICK = 200  # a burst of failures must not bury the window in text; details has them all

__all__ = ["Bridge", "FailureRow", "JobError"]

T = TypeVar("T")


@dataclass(frozen=True)
class FailureRow:
    """One failed file as the details view shows it."""

    file_id: int
    input: str
    kind: str
    error: str
    traceback: str
    attempts: int


@dataclass
class _TickBatch:
    """What one drain saw, applied to the models once at its end."""

    progress: dict[str, JobProgress]
    touched: set[str]
    finished: list[str]
    failures: set[str]
    lines: list[tuple[str, str]]
    workers_touched: bool = False
    refused: list[tuple[str, str, str]] = field(default_factory=list)  # (job id, verb, why)


class Bridge(QObject):
    jobs_changed = Signal()  # rows changed this tick (counts, states, rows added/removed)
    job_finished = Signal(str)  # job id; its JobRow holds the final counts and state
    failures_added = Signal(str)  # job id with new failed files
    log_lines = Signal(list)  # [(level, text)], once per tick
    engine_stopped = Signal(str)  # the engine thread ended on an error (its message); its jobs have ended
    refused = Signal(str, str, str)  # job id, verb ("start", "resume", "retry", ...), why: the engine declined it

    def __init__(self, engine: Engine, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.jobs = JobsModel()
        self.jobs.rename_requested.connect(self._rename_typed)
        self.workers = WorkersModel()
        self._failures: dict[str, dict[int, FailureRow]] = {}
        self._removed: set[str] = set()
        self._retrying: dict[str, set[int] | None] = {}  # retries asked for, not yet queued: which files
        self._renamed: dict[str, str] = {}  # the name a job had before the operator's latest rename
        self._shut_down = False
        self._workers: int | None = None
        self._clocks_shown = 0.0
        self._handlers: dict[type[Event], Callable[[Any, _TickBatch], None]] = {
            JobQueued: self._on_queued, JobStarted: self._on_started, JobProgress: self._on_progress,
            JobStateChanged: self._on_state, JobFinished: self._on_finished, FileStarted: self._on_file_started,
            FileProgress: self._on_file_progress, FileFailed: self._on_file_failed, WorkerStatus: self._on_status,
            WorkerExited: self._on_exited, Log: self._on_log, EngineStopped: self._on_engine_stopped,
            VerbRefused: self._on_refused, JobForgotten: self._on_forgotten,
        }
        # Past jobs come from the journal off this thread, on a read-only connection of its own.
        self.history = HistoryLoader(engine.journal.path)
        self.history.signals.loaded.connect(self._on_history)
        self.history.signals.failed.connect(lambda message: self.log_lines.emit([("error", message)]))
        self.reads = JournalReads(engine.journal.path, self)  # Details, the export, the retry's code check
        self._hidden: set[str] = set()
        self.timer = QTimer(self)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self.drain)
        self.timer.start()

    # -- commands (the only way widgets act on jobs) ----------------------
    def submit(self, spec: JobSpec, counted: int | None = None) -> str:
        """Queue a job; raises JobError with a message for the operator if it cannot start (what
        needs no journal: its processor, parameters, inputs). ``counted``: the files the window
        counted in its inputs, the job's total until its own scan is complete. Listed at once as
        queued: the engine writes it to the journal on its own thread, and a journal that refuses
        it (locked past the busy timeout, full, read-only) comes back as ``refused`` ("start"),
        the row taken off again."""
        self._call(self.engine.set_workers, spec.workers)  # the spin box, not an earlier job's override
        started: tuple[str, Future[str]] = self._call(self.engine.start, spec)
        job_id = started[0]
        self.jobs.add(JobRow(job_id, spec.name, processor_label(spec), spec.output, spec.inputs,
                             backend=spec.backend, scheduler=spec.scheduler, counted=counted, created=time.time()))
        self.jobs_changed.emit()
        return job_id

    def pause(self, job_id: str) -> None:
        self._call(self.engine.pause, job_id)

    def resume(self, job_id: str, record: JobRecord | None = None) -> None:
        """Un-pause, or continue an interrupted/cancelled/halted job (``record``: one read from the
        journal and not shown yet, as the start-up offer has). The engine decides on its own
        thread; a refusal comes back as ``refused``."""
        if self.jobs.job(job_id) is None and record is not None:
            self.jobs.add(_row_from_record(record))
        self._removed.discard(job_id)
        if self._workers is not None:
            self._call(self.engine.set_workers, self._workers)
        self._call(self.engine.resume, job_id)

    def cancel(self, job_id: str) -> None:
        self._call(self.engine.cancel, job_id)

    def retry(self, job_id: str, current_code: bool = False, only: set[int] | None = None) -> None:
        """Run the failed files of a finished job again: with the code the job was made with, or
        with ``current_code``, its processor as it is now (a script edited since). ``only``: just
        the failed files with these ids (those selected in Details). The engine decides on its
        own thread; the row shows the job queued when it is, and a refusal comes back as ``refused``."""
        if self._workers is not None:
            self._call(self.engine.set_workers, self._workers)
        self._retrying[job_id] = only
        self._call(self.engine.retry, job_id, current_code, only)

    def rename(self, job_id: str, name: str) -> None:
        """Give a job the operator's name, in the journal and the row; an empty name changes nothing."""
        name = " ".join(name.split())
        row = self.jobs.job(job_id)
        if not name or row is None or name == row.name:
            return
        self._call(self.engine.rename, job_id, name)  # written on the engine thread: a refusal puts the old name back
        self._renamed[job_id] = row.name
        row.name = name
        self.jobs.touch(job_id)

    def remove(self, job_id: str) -> bool:
        """Take a job off the table; a queued one is cancelled first. False while it runs."""
        row = self.jobs.job(job_id)
        if row is None:
            return False
        if not row.state.allows(Verb.REMOVE):
            return False
        if row.state is JobState.QUEUED:
            self._call(self.engine.cancel, job_id)
        self._removed.add(job_id)
        self._failures.pop(job_id, None)
        self.jobs.remove(job_id)
        self.jobs_changed.emit()
        return True

    def forget(self, job_id: str) -> str | None:
        """Delete a finished job from the journal for good (then compact it) and take it off the
        table once done. The engine decides and does it on its own thread (a job it has queued or
        runs, or that another process runs, is refused: ``refused``); None when asked, else why
        not at once."""
        row = self.jobs.job(job_id)
        if row is None or not row.state.allows(Verb.FORGET):
            return f"{row.name if row else job_id}: only a job that has ended can be forgotten"
        self._call(self.engine.forget, job_id)
        return None

    def _rename_typed(self, job_id: str, name: str) -> None:
        try:
            self.rename(job_id, name)
        except (JobError, JournalError) as exc:  # a journal that cannot be written: said in the window
            self.log_lines.emit([("error", f"the job could not be renamed: {exc}")])

    def load_history(self, hidden: set[str]) -> None:
        """List the journal's past jobs (not those in ``hidden``: removed from the view before)."""
        self._hidden = set(hidden)
        self.history.load()

    def _on_history(self, records: list[JobRecord]) -> None:
        rows = [_row_from_record(record, from_history=True) for record in records
                if record.id not in self._hidden and record.id not in self._removed
                and self.jobs.row_of(record.id) is None]
        if rows:
            self.jobs.add_first(rows)  # past jobs above this session's
            self.jobs_changed.emit()

    def set_workers(self, count: int) -> None:
        """Resize the pool now if a job runs; otherwise the next job's spec carries the count."""
        self._workers = count
        if not self._shut_down and self.active_jobs():
            self.engine.set_workers(count)

    def shutdown(self) -> None:
        """Stop every job (recorded as interrupted, so it can be resumed) and every worker."""
        self.timer.stop()
        self.history.wait()
        self.reads.close()
        if not self._shut_down:
            self._shut_down = True
            self.engine.shutdown()

    def _call(self, method: Callable[..., Any], *args: Any) -> Any:
        if self._shut_down:
            raise JobError("Batchmill is shutting down")
        return method(*args)

    # -- reading the journal (off this thread, on read-only connections: batchmill.gui.journal_reads) --
    def read_failures(self, job_id: str, on_done: Callable[[list[FailureRow]], None],
                      on_failed: Callable[[str], None]) -> None:
        """Every failed file of a job: the journal's, plus those reported but not yet journaled,
        given to ``on_done`` on this thread once read."""

        def read(reader: JournalReader) -> list[FailureRow]:
            return [_failure_from_record(rec) for rec in reader.files(job_id, (FileStatus.FAILED,))]

        def done(journaled: list[FailureRow]) -> None:
            rows = {row.file_id: row for row in journaled}
            rows.update(self._failures.get(job_id, {}))
            on_done([rows[k] for k in sorted(rows)])

        self.reads.read(read, done, on_failed)

    def read_report(self, job_id: str, then: Callable[[JobRecord, list[FileRecord]], T],
                    on_done: Callable[[T], None], on_failed: Callable[[str], None]) -> None:
        """The job and every one of its files, handed to ``then`` off this thread too (writing a
        report of 100,000 files is no work for the window's thread); what it returns goes to ``on_done``."""

        def read(reader: JournalReader) -> T:
            record = reader.job(job_id)
            if record is None:
                raise LookupError(f"no job {job_id!r} in the journal")
            return then(record, reader.files(job_id))

        self.reads.read(read, on_done, on_failed)

    def check_code_changed(self, job_id: str, on_done: Callable[[bool], None], on_failed: Callable[[str], None]) -> None:
        """Whether the job's script differs from the code journaled with it (the script's text
        against the job's recipe: batchmill.core.prepare.code_changed); read and hashed off this thread."""

        def read(reader: JournalReader) -> bool:
            job = reader.job(job_id)
            return job is not None and code_changed(job, reader.job_code(job_id))

        self.reads.read(read, on_done, on_failed)

    def read_offered(self, on_done: Callable[[list[JobRecord]], None], on_failed: Callable[[str], None]) -> None:
        """Jobs to offer to resume at start-up (interrupted or halted, owned by no live process)."""
        self.reads.read(lambda reader: reader.offered_jobs(), on_done, on_failed)

    def start_method(self) -> str:
        """How the engine starts worker processes (for Help → About)."""
        return self.engine.start_method

    def active_jobs(self) -> list[JobRow]:
        return [row for row in self.jobs.jobs() if row.is_active]

    # -- draining -----------------------------------------------------------
    def drain(self) -> int:
        """Apply up to MAX_EVENTS_PER_TICK events (or TICK_BUDGET_S of them); returns how many."""
        batch = _TickBatch({}, set(), [], set(), [])
        deadline = time.perf_counter() + TICK_BUDGET_S
        events = self.engine.events
        handlers = self._handlers
        count = 0
        while count < MAX_EVENTS_PER_TICK:
            try:
                event = events.get_nowait()
            except queue.Empty:
                break
            count += 1
            handler = handlers.get(type(event))
            if handler is not None:  # FileFinished, the bulk of a tiny-file job, needs nothing here
                handler(event, batch)
            if count % BUDGET_CHECK_EVERY == 0 and time.perf_counter() > deadline:
                break
        if count == 0 and not self.engine.alive:
            self._end_orphaned_jobs(batch)
        self._apply(batch)
        return count

    def _end_orphaned_jobs(self, batch: _TickBatch) -> None:
        """Jobs shown as active whose engine thread is gone (it always says goodbye; this is the
        net under that): nothing more will come for them, so they end here as errors."""
        for row in self.active_jobs():
            self._on_finished(JobFinished(row.job_id, JobState.ERROR, row.total, row.done, row.failed, row.skipped,
                                          row.elapsed_s, "the engine stopped before the job finished"), batch)

    def _apply(self, batch: _TickBatch) -> None:
        for job_id, event in batch.progress.items():
            row = self._row(job_id)
            if row is not None:
                row.total, row.done, row.failed, row.skipped = event.total, event.done, event.failed, event.skipped
                row.files_per_s, row.eta_s, row.scanning = event.files_per_s, event.eta_s, event.scanning
                batch.touched.add(job_id)
        for job_id in batch.touched:
            self.jobs.touch(job_id)
        now = time.monotonic()
        if batch.workers_touched or (now - self._clocks_shown >= CLOCK_REFRESH_S
                                     and any(r.busy for r in self.workers.rows())):
            self._clocks_shown = now
            self.workers.refresh()  # also ticks the "on it for" clocks
        if batch.lines:
            lines = batch.lines
            if len(lines) > LOG_LINES_PER_TICK:
                skipped = len(lines) - LOG_LINES_PER_TICK
                lines = [("warning", f"… {skipped:,} more messages not shown (failed files are all in the "
                                     "job's details)")] + lines[-LOG_LINES_PER_TICK:]
            self.log_lines.emit(lines)
        if batch.touched:
            self.jobs_changed.emit()
        for job_id in batch.failures:
            self.failures_added.emit(job_id)
        for job_id in batch.finished:
            self.job_finished.emit(job_id)
        for job_id, verb, message in batch.refused:
            self.refused.emit(job_id, verb, message)

    def _row(self, job_id: str) -> JobRow | None:
        return None if job_id in self._removed else self.jobs.job(job_id)

    # -- one handler per event type ----------------------------------------
    def _on_queued(self, event: JobQueued, batch: _TickBatch) -> None:
        if event.job_id in self._retrying:  # the failed files it runs again are no longer failures
            only = self._retrying.pop(event.job_id)
            if only is None:
                self._failures.pop(event.job_id, None)
            else:
                for file_id in only:
                    self._failures.get(event.job_id, {}).pop(file_id, None)
            batch.failures.add(event.job_id)
        row = self._row(event.job_id)
        if row is not None:
            row.state, row.error = JobState.QUEUED, None
            batch.touched.add(event.job_id)

    def _on_started(self, event: JobStarted, batch: _TickBatch) -> None:
        row = self._row(event.job_id)
        if row is not None:
            row.total, row.done, row.skipped, row.failed = event.total, event.done, event.skipped, event.failed
            row.scanning = event.scanning
            batch.touched.add(event.job_id)
        self.workers.keep_only(event.workers)
        batch.workers_touched = True

    def _on_progress(self, event: JobProgress, batch: _TickBatch) -> None:
        batch.progress[event.job_id] = event  # only the latest one per tick matters

    def _on_state(self, event: JobStateChanged, batch: _TickBatch) -> None:
        row = self._row(event.job_id)
        if row is not None:
            row.state = event.state
            batch.touched.add(event.job_id)

    def _on_finished(self, event: JobFinished, batch: _TickBatch) -> None:
        batch.progress.pop(event.job_id, None)
        row = self._row(event.job_id)
        self.workers.clear_files()
        batch.workers_touched = True
        if row is None:
            return
        row.state, row.total, row.done, row.failed = event.state, event.total, event.done, event.failed
        row.skipped, row.elapsed_s, row.error = event.skipped, event.elapsed_s, event.error
        row.files_per_s, row.eta_s, row.scanning = 0.0, None, False
        batch.touched.add(event.job_id)
        batch.finished.append(event.job_id)
        level = "error" if event.state is JobState.ERROR or event.failed else "info"
        if level == "info" and nothing_matched(row):
            level = "warning"
        batch.lines.append((level, summarize(row)))

    def _on_file_started(self, event: FileStarted, batch: _TickBatch) -> None:
        row = self.workers.row_for(event.worker)
        if row.file_id != event.file_id:
            row.file_id, row.input, row.started_at = event.file_id, event.input, time.time()
            row.fraction, row.message = None, ""
        row.job_id, row.exited = event.job_id, None
        batch.workers_touched = True

    def _on_file_progress(self, event: FileProgress, batch: _TickBatch) -> None:
        row = self.workers.row_for(event.worker)
        if row.file_id == event.file_id:
            row.fraction, row.message = event.fraction, event.message
            batch.workers_touched = True

    def _on_status(self, event: WorkerStatus, batch: _TickBatch) -> None:
        row = self.workers.row_for(event.worker)
        if row.file_id != event.file_id:
            row.fraction, row.message = event.fraction, ""
        row.pid, row.job_id, row.file_id, row.input = event.pid, event.job_id, event.file_id, event.input
        row.started_at, row.timeout_s, row.exited = event.started_at, event.timeout_s, None
        row.label = event.label
        batch.workers_touched = True

    def _on_exited(self, event: WorkerExited, batch: _TickBatch) -> None:
        row = self.workers.row_for(event.worker)
        row.file_id = row.input = row.started_at = row.fraction = None
        row.exited, row.message = event.reason, ""
        batch.workers_touched = True

    def _on_file_failed(self, event: FileFailed, batch: _TickBatch) -> None:
        if event.will_retry:
            batch.lines.append(("warning", f"failed, will retry: {event.input}: {event.error}"))
            return
        batch.lines.append(("error", f"FAILED {event.input}: {event.error}"))
        kept = self._failures.setdefault(event.job_id, {})
        if len(kept) < KEPT_FAILURES_PER_JOB:
            kept[event.file_id] = FailureRow(event.file_id, event.input, event.kind.value, event.error,
                                             event.traceback, event.attempt)
        batch.failures.add(event.job_id)

    def _on_engine_stopped(self, event: EngineStopped, batch: _TickBatch) -> None:
        self.workers.keep_only(0)  # its workers went with it
        batch.workers_touched = True
        if event.error is not None:
            batch.lines.append(("error", f"the engine stopped: {event.error}"))
            self.engine_stopped.emit(event.error)

    def _on_forgotten(self, event: JobForgotten, batch: _TickBatch) -> None:
        self.remove(event.job_id)
        self._removed.discard(event.job_id)  # gone from the journal: nothing left to hide
        batch.lines.append(("info", f"job {event.job_id} forgotten: deleted from the journal (its outputs stay)"))

    def _on_refused(self, event: VerbRefused, batch: _TickBatch) -> None:
        self._retrying.pop(event.job_id, None)
        if event.verb == "start" and self.jobs.job(event.job_id) is not None:  # never journaled: not listed
            self.jobs.remove(event.job_id)
            self._failures.pop(event.job_id, None)
            self.jobs_changed.emit()
        if event.verb == "rename":
            row = self.jobs.job(event.job_id)
            if row is not None and event.job_id in self._renamed:
                row.name = self._renamed.pop(event.job_id)
                batch.touched.add(event.job_id)
        batch.lines.append(("error", f"cannot {event.verb}: {event.message}"))
        batch.refused.append((event.job_id, event.verb, event.message))

    def _on_log(self, event: Log, batch: _TickBatch) -> None:
        row = self._row(event.job_id) if event.job_id else None
        batch.lines.append((event.level, f"{row.name}: {event.message}" if row is not None else event.message))


def summarize(row: JobRow) -> str:
    """One line about a finished job, for the log and the notification."""
    if row.state is JobState.ERROR:
        return f"{row.name}: could not run: {row.error}"
    if nothing_matched(row):
        return f"{row.name}: {row.error}"
    return (f"{row.name}: {describe_state(row.state)} — {row.done:,} done, {row.failed:,} failed, "
            f"{row.skipped:,} skipped of {row.total:,} files in {format_duration(row.elapsed_s)}")


def nothing_matched(row: JobRow) -> bool:
    """A job that found no file to process (it exits EXIT_NO_FILES; the engine says why in its error)."""
    return exit_status(row.state, row.total, row.failed) == EXIT_NO_FILES


def processor_label(spec: JobSpec) -> str:
    """The queue's Processor cell: a script's function by name (``convert.process``), not just ``python``."""
    script = spec.params.get("script") if spec.processor == "python" else None
    if not script:
        return spec.processor
    return script_processor_name(Path(str(script)), str(spec.params.get("function") or "process"))


def _row_from_record(record: JobRecord, from_history: bool = False) -> JobRow:
    return JobRow(record.id, record.name, processor_label(record.spec), record.spec.output, record.spec.inputs,
                  record.shown_state, record.total, record.done, record.failed, record.skipped,
                  error=record.error, elapsed_s=record.elapsed, backend=record.spec.backend,
                  scheduler=record.spec.scheduler, scanning=not record.planned, from_history=from_history,
                  created=record.created)


def _failure_from_record(record: FileRecord) -> FailureRow:
    return FailureRow(record.idx, record.input, record.kind or "", record.error or "", record.traceback or "",
                      record.attempts)
