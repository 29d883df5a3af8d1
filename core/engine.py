"""The engine: runs jobs on Batchmill's own pool of worker processes.

  front end (GUI / CLI)         engine thread (this module)             backend (batchmill.core.backends)
  ---------------------         ---------------------------             -----------------------
  submit(JobSpec) ──check────▶  command queue ─┐                       local: own spawn workers,
  pause/resume/cancel/retry ─▶  (+ wake pipe)  │                         one Pipe + slot each
  (start/resume/retry: a        a new job journaled here; resume/retry
   Future; a refusal is         decided here, from the job's state now:
   VerbRefused)                 check and act are one step
                                               ▼                        dask: a distributed cluster
                                plan: scan lazily, map outputs,
                                      journal rows, find collisions       worker, per file:
                                dispatch: batches sized from     ──────▶   slot ← (file id, start)
                                      measured time                        processor → tmp
                                wait(wake + backend.waitables())           os.replace(tmp, dst)
                                  Results  → JobRun → journal      ◀─────  Results per batch/0.1 s
                                  Lost     → pinned file fails,            Started for slow files
                                             the rest go out again         Progress from context
  events queue ◀─────────────── frozen dataclasses (batchmill.core.events)

Why its own pool: ``multiprocessing.Pool`` loses the task of a worker that dies
(``map()`` hangs for ever) and ``ProcessPoolExecutor`` breaks the whole pool.
Here the engine always knows which worker holds which files, so a crash, a
hang or a cancel costs one file and one process, never the batch.

Why spawn: the pool is started from a background thread of a (possibly Qt)
process, where fork is unsafe.
"""

from __future__ import annotations

import atexit
import multiprocessing
import multiprocessing.connection
import os
import queue
import shutil
import sqlite3
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from concurrent.futures import Future  # imported where one is made: its import (logging) is ~4 ms of every start

    from batchmill.core.housekeeping import Forgotten

from batchmill.core.events import (
    EngineStopped, Event, FileProgress, FileStarted, JobFinished, JobQueued, JobStarted, JobState,
    JobForgotten, JobStateChanged, Log, VerbRefused, WorkerExited, WorkerStatus,
)
from batchmill.core.backends.base import Backend, BackendSettings, Lost, WorkerGone, WorkerNow
from batchmill.core import early
from batchmill.core import journal as journal_module
from batchmill.core.backends.local import LocalBackend
from batchmill.core.jobrun import JobRun
from batchmill.core.lifecycle import Verb
from batchmill.core.journal import Journal
from batchmill.core.journal_trouble import JournalError
from batchmill.core.liveness import pid_alive, scratch_owner
from batchmill.core.scratch import new_scratch_root, private_base
from batchmill.core.messages import PayloadBroken, Printed, Progress, Results, Returned, RunBatch, Started
from batchmill.core.outputs import temporaries_of_job
from batchmill.core.sidecar import final_step_sidecars
from batchmill.core.patterns import describe_no_match
from batchmill.core.plan import PlanError
from batchmill.core.prepare import JobError, PreparedJob, check_new, journal_new, prepare_again
from batchmill.core.processors.base import Processor
from batchmill.core.spec import JobSpec

PROGRESS_EVERY_S = 0.1
WORKER_STATUS_EVERY_S = 0.2
IDLE_WAIT_S = 0.5
CREATE_SLICE_S = 0.25  # a new job waits for a journal held elsewhere in slices: a shutdown between them gives up
MAX_UNPINNED_DEATHS = 3  # workers dying with no file to blame: the processor can't even load

__all__ = ["Engine", "JobError", "JobSpec"]


@dataclass(frozen=True)
class _Command:
    verb: Literal["start", "pause", "resume", "retry", "forget", "rename", "cancel", "interrupt", "workers", "shutdown"]
    job_id: str = ""
    prepared: PreparedJob | None = None
    value: int = 0
    current_code: bool = False  # retry: with the processor's code as it is now
    only: frozenset[int] | None = None  # retry: just these failed files
    name: str = ""  # rename: the job's new name
    answer: Future[Any] | None = None  # start/resume/retry/forget: the outcome, or the error that refused it


class Engine:
    """Thread-safe front of the engine. Every method returns at once (``submit`` waits for the journal:
    ``start`` does not); results arrive as events."""

    def __init__(self, home: Path | None = None, *, start_method: str = "spawn",
                 journal: Journal | None = None, file_events: bool = True, keep_workers: bool = True) -> None:
        """``file_events=False``: no FileFinished event per file done (a CLI has no use for
        20,000 of them); failures, progress and everything else still arrive.

        ``keep_workers=False``: when a job's last file is done and no other job waits, the
        workers are let go before the job's final step (a CLI that runs one job), so their
        exit overlaps that step instead of following it. A window keeps them for the next job."""
        from batchmill.core.bootstrap import refuse_in_worker

        refuse_in_worker("an engine")  # before anything is journaled: a child re-running a script
        self.journal = journal or Journal(home)
        self.file_events = file_events
        self.keep_workers = keep_workers
        self.events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self.start_method = start_method
        self._context = multiprocessing.get_context(start_method)
        self._commands: queue.SimpleQueue[_Command] = queue.SimpleQueue()
        self._wake_r, self._wake_w = multiprocessing.Pipe(duplex=False)
        self._wake_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: _Loop | None = None
        self._start_lock = threading.Lock()
        self._states: dict[str, JobState] = {}
        self._closed = False
        self.workers_override: int | None = None

    # -- public API -------------------------------------------------------
    def submit(self, spec: JobSpec, processor: Processor | None = None) -> str:
        """Queue a job and wait until it is journaled; raises JobError (with a message for a person)
        if it cannot start, or the journal's error (locked, full, read-only). ``processor`` runs
        instead of the one the spec names (a function given to batchmill.run())."""
        return self.start(spec, processor)[1].result()

    def start(self, spec: JobSpec, processor: Processor | None = None) -> tuple[str, Future[str]]:
        """Queue a job without waiting for the journal: the job's id, and a Future decided on the
        engine thread once the job is written to the journal and queued (its JobQueued event comes
        first), or refused (it raises the journal's error; a VerbRefused "start" event says the same).
        What needs no journal (the processor, its parameters, the inputs) is checked here first:
        JobError at once."""
        prepared = check_new(spec, processor)
        return prepared.job_id, self._start_prepared(prepared)

    def _start_prepared(self, prepared: PreparedJob) -> Future[str]:
        """Journal and queue a job checked already (``start``; the self-test's own)."""
        from concurrent.futures import Future

        answer: Future[str] = Future()
        self._post(_Command("start", prepared.job_id, prepared, answer=answer))
        return answer

    def resume(self, job_id: str) -> Future[str]:
        """Un-pause a job paused here, or continue an interrupted/cancelled/halted job from the journal.

        Decided on the engine thread, from the job's state when the command is handled there: of two
        resumes of one job at once (two threads, two clicks), one runs it and the other is refused.
        Returns at once. The Future gives the job's full id, or raises the JobError (or the journal's
        error) that refused it; a refusal also arrives as a VerbRefused event, for a front end
        that does not wait."""
        from concurrent.futures import Future

        answer: Future[str] = Future()
        self._post(_Command("resume", job_id, answer=answer))
        return answer

    def retry(self, job_id: str, current_code: bool = False, only: Collection[int] | None = None) -> Future[str]:
        """Run the failed files of a finished job again: with its journaled processor, or with
        ``current_code``, the processor as its code is now (a script fixed since). ``only``: just
        the failed files with these ids. Decided and answered like ``resume``."""
        from concurrent.futures import Future

        answer: Future[str] = Future()
        self._post(_Command("retry", job_id, current_code=current_code,
                            only=frozenset(only) if only is not None else None, answer=answer))
        return answer

    def forget(self, job_id: str) -> Future[Forgotten]:
        """Delete a job that has ended from the journal for good, then compact it
        (batchmill.core.housekeeping), decided on the engine thread like ``resume``: a job queued
        or running here is refused (so a resume and a forget of one job at once never leave the
        engine running a job the journal no longer has). The Future gives the report, or raises
        the JobError that refused it; the JobForgotten or VerbRefused event says the same."""
        from concurrent.futures import Future

        answer: Future[Forgotten] = Future()
        self._post(_Command("forget", job_id, answer=answer))
        return answer

    def rename(self, job_id: str, name: str) -> None:
        """Give a job the operator's name in the journal, written on the engine thread (a window
        must not wait there for a journal another process holds); a failure is a VerbRefused."""
        self._post(_Command("rename", job_id, name=name))

    def pause(self, job_id: str) -> None:
        self._post(_Command("pause", job_id))

    def cancel(self, job_id: str) -> None:
        self._post(_Command("cancel", job_id))

    def interrupt(self, job_id: str) -> None:
        """Like cancel, but recorded as interrupted (Ctrl-C): ``resume`` picks it up."""
        self._post(_Command("interrupt", job_id))

    def set_workers(self, count: int) -> None:
        if count < 1:
            raise ValueError("at least one worker is needed")
        self._post(_Command("workers", value=count))

    def state_of(self, job_id: str) -> JobState | None:
        return self._states.get(job_id)

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop every job (recorded as interrupted) and every worker. Safe to call twice."""
        self._closed = True
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._post(_Command("shutdown"))
            thread.join(timeout)
        self._thread = None

    def close(self) -> None:
        self.shutdown()
        self.journal.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ---------------------------------------------------------
    def _post(self, command: _Command) -> None:
        if self._closed and command.verb != "shutdown":
            raise RuntimeError("the engine has been shut down")
        with self._start_lock:  # a thread that is ending takes no command it would leave unanswered
            self._ensure_thread()
            self._commands.put(command)
        with self._wake_lock:
            self._wake_w.send_bytes(b"!")

    def _ensure_thread(self) -> None:
        """Start the engine thread if none runs (or the one there is ending). Under _start_lock."""
        from batchmill.core.bootstrap import refuse_in_worker

        if self._thread is None or not self._thread.is_alive() or self._loop is None or self._loop.retired:
            refuse_in_worker("an engine")
            loop = _Loop(self)
            self._loop = loop
            self._thread = threading.Thread(target=loop.run, name="batchmill-engine", daemon=True)
            self._thread.start()
            atexit.register(self.shutdown)

    @property
    def alive(self) -> bool:
        """Whether an engine thread runs. A front end waiting on a job whose engine is not alive
        (and that sent no EngineStopped) knows that nothing more will come."""
        thread = self._thread
        return thread is not None and thread.is_alive()


def make_scratch_root() -> str:
    """A private folder for the workers' scratch space, in the user's cache folder.

    Named after this process (its pid and start time), so that folders left by a killed
    Batchmill (its ``finally`` never ran) are recognised and removed by the next one, and
    a live one's are not, even when a dead one's pid has been given to it."""
    base = private_base()  # the user's own (batchmill.core.scratch), or None: then a private one of its own
    for stale in base.iterdir() if base is not None else ():
        pid, started = scratch_owner(stale.name)
        if pid is not None and pid != os.getpid() and not pid_alive(pid, started):
            shutil.rmtree(stale, ignore_errors=True)
    return early.take_scratch_root() or new_scratch_root()


def describe_engine_error(exc: BaseException, journal_path: Path) -> str:
    """What ended the engine, for a person: the journal failing (disk full, read-only, locked,
    corrupt) names the file; anything else is a bug of Batchmill's, named as one."""
    if isinstance(exc, JournalError):
        return str(exc)
    if isinstance(exc, sqlite3.Error):
        return (f"the journal {journal_path} failed: {exc} (free some space or fix the file, then run the job "
                "again: outputs already made are skipped)")
    return f"unexpected engine error: {type(exc).__name__}: {exc}"


class _Loop:
    """The engine thread. Owns the backend, the job queue and the running job."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.journal = engine.journal
        self.emit = engine.events.put
        self.scratch = make_scratch_root()
        self.local = LocalBackend(engine._context, self.scratch)
        self.backend: Backend = self.local  # the running job's backend
        self.backends: dict[tuple[str, str], Backend] = {("local", ""): self.local}
        self.queue: deque[PreparedJob] = deque()
        self.run_: JobRun | None = None
        self.stopping = False
        self.batch_seq = 0
        self.last_progress = 0.0
        self.last_status = 0.0
        self.announced: dict[int, WorkerNow] = {}
        self.retired = False  # set as the thread ends: commands then go to a new thread

    # -- main loop --------------------------------------------------------
    def run(self) -> None:
        error: str | None = None
        try:
            while True:
                self.handle_commands()
                if self.stopping and self.run_ is None:
                    break
                if self.run_ is None and self.queue and not self.stopping:
                    self.begin(self.queue.popleft())
                if self.run_ is not None:
                    self.advance()
                self.wait_and_handle()
                if self.run_ is not None:
                    self.tick()
        except BaseException as exc:  # noqa: BLE001 - the engine thread must report, never vanish
            error = f"unexpected engine error: {type(exc).__name__}: {exc}"  # if describing it fails too
            error = describe_engine_error(exc, self.journal.path)
            # A journal that failed is the operator's to fix: the message says what and where. Anything
            # else is a bug of Batchmill's, and its traceback is what a bug report needs.
            detail = "" if isinstance(exc, (sqlite3.Error, JournalError)) else f"\n{traceback.format_exc()}"
            self.emit(Log("error", f"the engine stopped: {error}{detail}",
                          self.run_.job_id if self.run_ is not None else None))
            self.abandon_all(error)
        finally:
            self.close_down(error)

    def abandon_all(self, error: str) -> None:
        """The engine failed: end the running job and every queued one, each with its JobFinished.
        Nothing here may raise, the journal least of all (it may be what failed)."""
        run = self.run_
        if run is not None:
            self.run_ = None
            try:
                self.backend.abort(f"stopped: {error}")
            except Exception as exc:  # noqa: BLE001 - its workers are killed again by close_down
                self.emit(Log("error", f"could not stop the workers at once: {exc}", run.job_id))
            try:
                run.flush(force=True)
            except Exception as exc:  # noqa: BLE001 - the journal may be what failed
                self.emit(Log("error", f"could not record the last finished files: {exc}", run.job_id))
            self.finish_abandoned(run.job_id, run.counts(), run.elapsed, error)
        while self.queue:
            self.finish_abandoned(self.queue.popleft().job_id, (0, 0, 0, 0), 0.0,
                                  f"not started: the engine stopped ({error})")

    def finish_abandoned(self, job_id: str, counts: tuple[int, int, int, int], elapsed: float, error: str) -> None:
        try:
            self.journal.set_job_state(job_id, JobState.ERROR, error=error, elapsed=elapsed)
        except Exception as exc:  # noqa: BLE001 - the journal may be what failed
            self.emit(Log("error", f"could not record the job's end in the journal: {exc}", job_id))
        self.engine._states[job_id] = JobState.ERROR
        total, done, failed, skipped = counts
        self.emit(JobStateChanged(job_id, JobState.ERROR))
        self.emit(JobFinished(job_id, JobState.ERROR, total, done, failed, skipped, elapsed, error))

    def close_down(self, error: str | None) -> None:
        """Whatever ended the loop: no worker left, no scratch left, and the front ends told that
        this thread is gone. A command posted meanwhile goes to a new thread, never unanswered."""
        for backend in self.backends.values():
            try:
                backend.shutdown()
            except Exception as exc:  # noqa: BLE001 - told, and the other backends still stop
                self.emit(Log("error", f"could not stop the {backend.name} workers: {exc}"))
        shutil.rmtree(self.scratch, ignore_errors=True)
        with self.engine._start_lock:  # _post checks and posts under it too
            self.retired = True
            self.emit(EngineStopped(error))
            if self.engine._closed:
                self.refuse_left_over()
            elif not self.engine._commands.empty():
                self.engine._ensure_thread()

    def refuse_left_over(self) -> None:
        """The engine is closed: a command still in the queue whose caller waits for an answer
        (resume, retry, forget) is answered, never left waiting."""
        while True:
            try:
                cmd = self.engine._commands.get_nowait()
            except queue.Empty:
                return
            if cmd.answer is not None:
                self.refuse(cmd, JobError("Batchmill is shutting down"))

    def wait_and_handle(self) -> None:
        wake = self.engine._wake_r
        waitables = [wake]
        for backend in self.backends.values():
            waitables += backend.waitables()
        ready = multiprocessing.connection.wait(waitables, self.wait_timeout())
        if wake in ready:
            while wake.poll():
                wake.recv_bytes()
        news = [obj for obj in ready if obj is not wake]
        for backend in list(self.backends.values()):
            for worker, message in backend.collect(news):
                if backend is self.backend:
                    self.on_message(worker, message)
                elif isinstance(message, WorkerGone) and not message.expected:
                    self.emit(WorkerExited(message.worker, message.pid, message.reason))

    def wait_timeout(self) -> float:
        run = self.run_
        if run is None:
            return IDLE_WAIT_S
        if run.planning is not None:
            return 0.0  # more inputs to scan: just look for messages and go on
        deadline = self.backend.next_deadline()
        return PROGRESS_EVERY_S if deadline is None else min(PROGRESS_EVERY_S, deadline)

    # -- commands ---------------------------------------------------------
    def handle_commands(self) -> None:
        while True:
            try:
                cmd = self.engine._commands.get_nowait()
            except queue.Empty:
                return
            self.handle(cmd)

    def handle(self, cmd: _Command) -> None:
        run = self.run_
        is_current = run is not None and run.job_id == cmd.job_id
        if cmd.verb == "start" and cmd.prepared is not None:
            self.create(cmd, cmd.prepared)
        elif cmd.verb == "pause" and is_current and run is not None and run.state is JobState.RUNNING:
            self.set_state(run, JobState.PAUSED)
        elif cmd.verb in ("resume", "retry"):
            self.again(cmd)
        elif cmd.verb == "forget":
            self.forget(cmd)
        elif cmd.verb == "rename":
            try:
                self.journal.rename_job(cmd.job_id, cmd.name)
            except (JournalError, sqlite3.Error) as exc:
                self.refuse(cmd, exc)
        elif cmd.verb in ("cancel", "interrupt"):
            state = JobState.CANCELLED if cmd.verb == "cancel" else JobState.INTERRUPTED
            if is_current:
                self.stop_running(state)
            else:
                self.drop_queued(cmd.job_id, state)
        elif cmd.verb == "workers":
            self.engine.workers_override = cmd.value
            if self.run_ is not None:
                self.backend.configure(self.settings_for(self.run_))
        elif cmd.verb == "shutdown":
            self.stopping = True
            for prepared in list(self.queue):
                self.drop_queued(prepared.job_id, JobState.INTERRUPTED)
            if self.run_ is not None:
                self.stop_running(JobState.INTERRUPTED)

    def answer(self, cmd: _Command, act: Callable[[], object], done: str) -> None:
        """A verb's check and act in one step of this thread, so nothing changes the job between
        them; the caller waiting on ``cmd.answer`` gets what ``act`` returns. A refusal is answered,
        never raised: the engine goes on. ``done`` completes "job X could not be ..." for a bug."""
        try:
            result = act()
        except (JobError, JournalError, sqlite3.Error) as exc:
            self.refuse(cmd, exc)
        except Exception as exc:  # noqa: BLE001 - a bug of Batchmill's: told with its traceback, the engine goes on
            self.emit(Log("error", f"could not {cmd.verb} job {cmd.job_id}:\n{traceback.format_exc()}", cmd.job_id))
            self.refuse(cmd, JobError(f"job {cmd.job_id} could not be {done}: {type(exc).__name__}: {exc}"))
        else:
            if cmd.answer is not None:
                cmd.answer.set_result(result)

    def again(self, cmd: _Command) -> None:
        """Resume or retry: the check (the job's state, here and in the journal) and the act (un-pause,
        or prepare and queue it)."""
        self.answer(cmd, lambda: self.resume_or_retry(cmd), f"{cmd.verb}d")

    def create(self, cmd: _Command, prepared: PreparedJob) -> None:
        """A new job: written to the journal here, never on the caller's thread (a window must not
        wait for a journal another process holds), then queued."""
        def act() -> str:
            if self.stopping:
                raise JobError("Batchmill is shutting down")
            self.journal_new(prepared)
            self.engine._states[prepared.job_id] = JobState.QUEUED
            self.emit(JobQueued(prepared.job_id, prepared.spec.name, prepared.spec.processor))
            self.queue.append(prepared)
            return prepared.job_id

        self.answer(cmd, act, "started")

    def journal_new(self, prepared: PreparedJob) -> None:
        """Write the new job to the journal, waiting for one another program holds (up to the busy
        timeout) in slices: a shutdown meanwhile (the window quitting) gives up within one, where
        the whole wait held the quit (the engine thread is joined for 30 s)."""
        deadline = time.monotonic() + journal_module.BUSY_TIMEOUT_S
        while True:
            if self.stopping or self.engine._closed:
                raise JobError("Batchmill is shutting down")
            try:
                with self.journal.patience(min(CREATE_SLICE_S, max(0.0, deadline - time.monotonic()))):
                    journal_new(prepared, self.journal)
                return
            except JournalError as exc:
                if not exc.locked or time.monotonic() >= deadline:
                    raise

    def forget(self, cmd: _Command) -> None:
        """Forget: the check (not queued or running here, the journal's state allows it) and the delete."""
        from batchmill.core.housekeeping import Forgotten, HousekeepingError, forget as forget_jobs, resolve

        def act() -> Forgotten:
            try:
                [job] = resolve(self.journal, [cmd.job_id])
                state = self.engine._states.get(job.id)
                if state is not None and state.is_active:
                    raise JobError(f"job {job.id} is {state.value} here: cancel it first")
                report = forget_jobs(self.journal, [job])
            except HousekeepingError as exc:  # an id that names no job, or several: refused in its words
                raise JobError(str(exc)) from None
            if report.refused:
                raise JobError(f"job {job.id} was not forgotten: {report.refused[0][1]}")
            self.engine._states.pop(job.id, None)
            self.emit(JobForgotten(job.id))
            return report

        self.answer(cmd, act, "forgotten")

    def refuse(self, cmd: _Command, exc: BaseException) -> None:
        self.emit(VerbRefused(cmd.job_id, cmd.verb, str(exc)))
        if cmd.answer is not None:
            cmd.answer.set_exception(exc)

    def resume_or_retry(self, cmd: _Command) -> str:
        """The job's full id once it is un-paused or queued; JobError (a message for a person) if its
        state does not allow the verb (batchmill.core.lifecycle) or it cannot run."""
        if self.stopping:
            raise JobError("Batchmill is shutting down")
        try:
            record = self.journal.get_job(cmd.job_id)  # an id's prefix names the job too
        except LookupError as exc:
            raise JobError(str(exc)) from None
        job_id = record.id if record is not None else cmd.job_id
        state = self.engine._states.get(job_id)
        if state is not None and state.is_active:  # this engine has it: the life-cycle table says what applies
            verb = Verb(cmd.verb)
            run = self.run_
            if verb is Verb.RESUME and state.allows(verb) and run is not None and run.job_id == job_id:
                self.set_state(run, JobState.RUNNING)  # paused here: un-paused, not run again
                return job_id
            if verb is Verb.RESUME:
                raise JobError(f"job {job_id} is already {state.value}: there is nothing to resume")
            raise JobError(f"job {job_id} is still {state.value}; retry it when it has finished")
        mode: Literal["resume", "retry"] = "resume" if cmd.verb == "resume" else "retry"
        prepared = prepare_again(job_id, self.journal, mode, cmd.current_code, cmd.only)
        self.engine._states[prepared.job_id] = JobState.QUEUED
        self.emit(JobQueued(prepared.job_id, prepared.spec.name, prepared.spec.processor))
        self.queue.append(prepared)
        return prepared.job_id

    def drop_queued(self, job_id: str, state: JobState) -> None:
        for prepared in list(self.queue):
            if prepared.job_id == job_id:
                self.queue.remove(prepared)
                self.journal.set_job_state(job_id, state)
                self.engine._states[job_id] = state
                job = self.journal.get_job(job_id)
                self.emit(JobStateChanged(job_id, state))
                self.emit(JobFinished(job_id, state, job.total if job else 0, job.done if job else 0,
                                      job.failed if job else 0, job.skipped if job else 0, 0.0))

    # -- job life cycle ---------------------------------------------------
    def settings_for(self, run: JobRun) -> BackendSettings:
        workers = self.engine.workers_override or run.spec.workers
        return BackendSettings(workers, run.spec.timeout_s, run.spec.max_files_per_worker)

    def begin(self, prepared: PreparedJob) -> None:
        run = JobRun(prepared, self.journal, self.emit, self.engine.file_events)
        self.run_ = run
        self.set_state(run, JobState.PLANNING)
        try:
            self.backend = self.backend_for(run.spec)
            self.backend.configure(self.settings_for(run))  # workers start up while inputs are scanned
            self.backend.check_job(list(run.spec.inputs), run.spec.output)
            run.begin(lambda message: self.emit(Log("info", message, run.job_id)))
        except (PlanError, JobError) as exc:
            self.end(JobState.ERROR, str(exc))
            return
        if run.planning is None:
            self.start_running(run)

    def backend_for(self, spec: JobSpec) -> Backend:
        key = (spec.backend, spec.scheduler or "")
        backend = self.backends.get(key)
        if backend is None:
            from batchmill.core.backends.dask import open_dask_backend

            backend = open_dask_backend(spec.scheduler, self.scratch, self.emit)
            self.backends[key] = backend
        return backend

    def advance(self) -> None:
        run = self.run_
        assert run is not None
        if run.planning is not None and run.state in (JobState.PLANNING, JobState.RUNNING, JobState.PAUSED):
            try:
                planned_all = run.plan_step()
            except PlanError as exc:
                self.end(JobState.ERROR, str(exc))
                return
            except OSError as exc:
                self.end(JobState.ERROR, f"could not scan the inputs: {exc}")
                return
            # Files start while the scan goes on only when no two inputs can claim one output;
            # otherwise every collision must be known before the first file runs.
            if run.state is JobState.PLANNING and (planned_all or not run.may_collide):
                self.start_running(run)
        if run.state is JobState.RUNNING:
            self.dispatch(run)

    def start_running(self, run: JobRun) -> None:
        if run.planning is None:
            run.flush(force=True)
        self.set_state(run, JobState.RUNNING)
        self.emit(JobStarted(run.job_id, run.total, run.done, run.skipped, run.failed, self.settings_for(run).workers,
                             run.planning is not None))
        self.emit(Log("info", f"running on {self.backend.describe()}", run.job_id))
        self.emit(run.progress_event())

    def set_state(self, run: JobRun, state: JobState) -> None:
        run.state = state
        run.meter.set_running(state is JobState.RUNNING, run.finished_now)  # paused time is not running time
        self.engine._states[run.job_id] = state
        self.journal.set_job_state(run.job_id, state, elapsed=run.elapsed)
        self.emit(JobStateChanged(run.job_id, state))

    def stop_running(self, state: JobState, error: str | None = None) -> None:
        """Cancel, interrupt, halt or fail: stop the workers holding this job's files, keep what is done."""
        for worker, message in self.backend.abort(f"stopped: job {state.value}"):
            self.on_message(worker, message)
        self.end(state, error)

    def end(self, state: JobState, error: str | None = None) -> None:
        run = self.run_
        assert run is not None
        run.flush(force=True)  # journaled before the final step writes anything from it
        if not self.engine.keep_workers and not self.queue:
            self.backend.retire_workers()
        run.remove_empty_folders()
        if state is JobState.COMPLETED:
            try:
                with temporaries_of_job(run.job_id), final_step_sidecars(  # a manifest's sidecar, if on
                        run.sidecar, [(str(r.input), str(r.output)) for r in run.prepared.roots]):
                    for line in run.prepared.processor.finalize(
                            run.prepared.params, run.prepared.roots, run.done_results(), run.spec.overwrite.value):
                        self.emit(Log("info", line, run.job_id))
            except Exception as exc:  # noqa: BLE001 - reported as the job's error
                state, error = JobState.ERROR, f"the final step of {run.spec.processor!r} failed: {exc}"
        if state is JobState.COMPLETED and run.total == 0 and error is None:  # exits EXIT_NO_FILES
            error = describe_no_match(run.spec.include, run.spec.exclude, run.spec.ignore_case)
        run.state = state
        run.meter.set_running(False)
        self.engine._states[run.job_id] = state
        self.journal.set_job_state(run.job_id, state, error=error, elapsed=run.elapsed)
        self.emit(JobStateChanged(run.job_id, state))
        self.emit(run.progress_event())
        self.emit(JobFinished(run.job_id, state, run.total, run.done, run.failed, run.skipped, run.elapsed, error,
                              run.scan_skipped, tuple(run.scan_skips)))
        self.run_ = None

    def tick(self) -> None:
        run = self.run_
        if run is None:
            return
        if run.unpinned_deaths >= MAX_UNPINNED_DEATHS:
            self.stop_running(JobState.ERROR, f"worker processes keep dying before they start on a file "
                                              f"({run.last_death})")
            return
        if run.state is JobState.RUNNING and run.should_halt():
            self.emit(Log("warning", f"halting: {run.failed} files failed (--halt-after {run.spec.halt_after})",
                          run.job_id))
            self.stop_running(JobState.HALTED)
            return
        if run.state is JobState.RUNNING and run.finished and not run.inflight:
            self.end(JobState.COMPLETED)
            return
        now = time.monotonic()
        if now - self.last_progress >= PROGRESS_EVERY_S:
            self.last_progress = now
            self.emit(run.progress_event())
        if now - self.last_status >= WORKER_STATUS_EVERY_S:
            self.last_status = now
            self.announce_workers(run)
        run.flush()

    # -- batches ----------------------------------------------------------
    def dispatch(self, run: JobRun) -> None:
        workers = self.settings_for(run).workers
        run.top_up()  # files beyond the in-memory window come back from the journal
        while run.pending and self.backend.capacity() > 0:
            size = run.sizer.size(workers, len(run.pending), self.backend.batch_target_s)
            limit = self.backend.max_batch()
            if limit is not None:
                size = min(size, limit)
            ids, srcs, dsts, tmps = run.take(size)
            self.batch_seq += 1
            batch = RunBatch(self.batch_seq, run.job_id, run.prepared.payload_key, run.prepared.payload,
                             tuple(ids), tuple(srcs), tuple(dsts) if dsts else None, tuple(tmps) if tmps else None,
                             self.scratch, run.sidecar, run.drop_sidecars)
            run.sent(batch.batch_id, ids)
            try:
                self.backend.send(batch)
            except OSError:
                run.lost(batch.batch_id, None, None)  # the worker is gone; its death is news next round
                break
        if not run.pending:
            self.backend.reclaim()  # an idle worker must not wait on files queued behind a long one

    def on_message(self, worker: int, message: object) -> None:
        run = self.run_
        if run is None:
            if isinstance(message, WorkerGone) and not message.expected:
                self.emit(WorkerExited(message.worker, message.pid, message.reason))
            return
        if isinstance(message, Results):
            run.on_results(message)
        elif isinstance(message, Started):
            if run.holds(message.batch_id):
                self.emit(FileStarted(run.job_id, message.file_id, run.input_of(message.file_id), worker))
        elif isinstance(message, Progress):
            if run.holds(message.batch_id):
                self.emit(FileProgress(run.job_id, message.file_id, worker, message.fraction, message.message))
        elif isinstance(message, Printed):
            if run.holds(message.batch_id):
                self.emit(Log("info", f"{run.input_of(message.file_id)} printed:\n{message.text}", run.job_id))
        elif isinstance(message, Returned):
            run.returned(message.batch_id, message.file_ids)
        elif isinstance(message, Lost):
            run.lost(message.batch_id, message.current, message.failure, message.unexplained)
        elif isinstance(message, WorkerGone):
            self.announced.pop(message.worker, None)
            if not message.expected:
                run.last_death = message.reason
                if not message.reason.startswith(("stopped", "killed")):
                    self.emit(Log("warning", f"worker {message.worker}: {message.reason}", run.job_id))
                self.emit(WorkerExited(message.worker, message.pid, message.reason))
        elif isinstance(message, PayloadBroken):
            run.lost(message.batch_id, None, None)
            self.emit(Log("error", message.failure.message + "\n" + message.failure.traceback, run.job_id))
            self.stop_running(JobState.ERROR, message.failure.message)

    def announce_workers(self, run: JobRun) -> None:
        for now in self.backend.status():
            if self.announced.get(now.worker) == now:
                continue
            self.announced[now.worker] = now
            file_input = run.input_of(now.file_id) if now.file_id is not None else None
            self.emit(WorkerStatus(now.worker, now.pid, run.job_id if now.file_id is not None else None,
                                   now.file_id, file_input, now.started_at, None, run.spec.timeout_s, now.label))
