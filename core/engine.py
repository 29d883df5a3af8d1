"""The engine: runs jobs on Batchmill's own pool of worker processes.

  front end (GUI / CLI)         engine thread (this module)                worker processes (spawn)
  ---------------------         ---------------------------                ------------------------
  submit(JobSpec) ──prepare──▶  command queue ─┐                          reader thread: drain pipe
  pause/resume/cancel/retry ─▶  (+ wake pipe)  │                          main: for each file
                                               ▼                            slot ← (file id, start)
                                plan: scan lazily, map outputs,             run processor → tmp
                                      journal rows, find collisions        os.replace(tmp, dst)
                                dispatch: batches sized from      ──────▶  Results per batch/0.1 s
                                      measured time, ≤2 per worker         Started for slow files
                                wait(pipes + sentinels + wake) ◀──────     Progress from context
                                  results → JobRun → journal (batched)
                                  sentinel → death pinned via slot
                                  slot age > timeout → kill that worker
  events queue ◀─────────────── frozen dataclasses (core.events)

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
import queue
import shutil
import tempfile
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from core.events import (
    Event, FailureKind, FileProgress, FileStarted, JobFinished, JobQueued, JobStarted, JobState,
    JobStateChanged, Log, WorkerExited, WorkerStatus,
)
from core.jobrun import JobRun
from core.journal import Journal
from core.messages import Failure, PayloadBroken, Progress, Results, RunBatch, Started
from core.plan import PlanError
from core.pool import WorkerHandle, WorkerPool, describe_exit
from core.prepare import JobError, PreparedJob, prepare_again, prepare_new
from core.spec import JobSpec

BATCHES_PER_WORKER = 2  # one running, one waiting in the pipe: no idle gap between batches
PROGRESS_EVERY_S = 0.1
WORKER_STATUS_EVERY_S = 0.2
IDLE_WAIT_S = 0.5
MAX_UNPINNED_DEATHS = 3  # workers dying with no file to blame: the processor can't even load

__all__ = ["Engine", "JobError", "JobSpec"]


@dataclass(frozen=True)
class _Command:
    verb: Literal["start", "pause", "unpause", "cancel", "interrupt", "workers", "shutdown"]
    job_id: str = ""
    prepared: PreparedJob | None = None
    value: int = 0


class Engine:
    """Thread-safe front of the engine. Every method returns at once; results arrive as events."""

    def __init__(self, home: Path | None = None, *, start_method: str = "spawn",
                 journal: Journal | None = None) -> None:
        self.journal = journal or Journal(home)
        self.events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self.start_method = start_method
        self._context = multiprocessing.get_context(start_method)
        self._commands: queue.SimpleQueue[_Command] = queue.SimpleQueue()
        self._wake_r, self._wake_w = multiprocessing.Pipe(duplex=False)
        self._wake_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._states: dict[str, JobState] = {}
        self._closed = False
        self.workers_override: int | None = None

    # -- public API -------------------------------------------------------
    def submit(self, spec: JobSpec) -> str:
        """Queue a job; raises JobError (with a message for a person) if it cannot start."""
        prepared = prepare_new(spec, self.journal)
        self._enqueue(prepared)
        return prepared.job_id

    def resume(self, job_id: str) -> None:
        """Un-pause a job paused here, or continue an interrupted/cancelled/halted job from the journal."""
        if self._states.get(job_id) is JobState.PAUSED:
            self._post(_Command("unpause", job_id))
            return
        if self._states.get(job_id) in (JobState.QUEUED, JobState.PLANNING, JobState.RUNNING):
            return
        self._enqueue(prepare_again(job_id, self.journal, "resume"))

    def retry(self, job_id: str) -> None:
        """Run the failed files of a finished job again (with its journaled processor)."""
        if self._states.get(job_id) in (JobState.QUEUED, JobState.PLANNING, JobState.RUNNING, JobState.PAUSED):
            raise JobError(f"job {job_id} is still running; retry it when it has finished")
        self._enqueue(prepare_again(job_id, self.journal, "retry"))

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
    def _enqueue(self, prepared: PreparedJob) -> None:
        self._states[prepared.job_id] = JobState.QUEUED
        self.events.put(JobQueued(prepared.job_id, prepared.spec.name, prepared.spec.processor))
        self._post(_Command("start", prepared.job_id, prepared))

    def _post(self, command: _Command) -> None:
        if self._closed and command.verb != "shutdown":
            raise RuntimeError("the engine has been shut down")
        self._ensure_thread()
        self._commands.put(command)
        with self._wake_lock:
            self._wake_w.send_bytes(b"!")

    def _ensure_thread(self) -> None:
        from core.bootstrap import refuse_in_worker

        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                refuse_in_worker("an engine")
                loop = _Loop(self)
                self._thread = threading.Thread(target=loop.run, name="batchmill-engine", daemon=True)
                self._thread.start()
                atexit.register(self.shutdown)


class _Loop:
    """The engine thread. Owns the pool, the job queue and the running job."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.journal = engine.journal
        self.emit = engine.events.put
        self.scratch = tempfile.mkdtemp(prefix="batchmill-scratch-")
        self.pool = WorkerPool(engine._context, self.scratch)
        self.queue: deque[PreparedJob] = deque()
        self.run_: JobRun | None = None
        self.paused = False
        self.stopping = False
        self.batch_seq = 0
        self.last_progress = 0.0
        self.last_status = 0.0

    # -- main loop --------------------------------------------------------
    def run(self) -> None:
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
            self.emit(Log("error", f"the engine stopped on an unexpected error: {exc}\n{traceback.format_exc()}"))
            if self.run_ is not None:
                self.end(JobState.ERROR, f"unexpected engine error: {exc}")
        finally:
            self.pool.shutdown()
            shutil.rmtree(self.scratch, ignore_errors=True)

    def wait_and_handle(self) -> None:
        waitables: list[Any] = [self.engine._wake_r]
        owners: dict[Any, tuple[str, WorkerHandle]] = {}
        for worker in list(self.pool.workers.values()):
            waitables += [worker.conn, worker.sentinel]
            owners[worker.conn] = ("conn", worker)
            owners[worker.sentinel] = ("sentinel", worker)
        ready = multiprocessing.connection.wait(waitables, self.wait_timeout())
        dead: list[WorkerHandle] = []
        for obj in ready:
            if obj is self.engine._wake_r:
                while self.engine._wake_r.poll():
                    self.engine._wake_r.recv_bytes()
                continue
            kind, worker = owners[obj]
            if worker.id not in self.pool.workers:
                continue
            if kind == "conn":
                if not self.drain(worker):
                    dead.append(worker)
            else:
                dead.append(worker)
        for worker in dict.fromkeys(dead):
            if worker.id in self.pool.workers:
                self.drain(worker)
                self.on_death(worker)

    def wait_timeout(self) -> float:
        run = self.run_
        if run is None:
            return IDLE_WAIT_S
        if run.planning is not None:
            return 0.0  # more inputs to scan: just look for messages and go on
        timeout = PROGRESS_EVERY_S
        if run.spec.timeout_s is not None:
            now = time.time()
            for worker in self.pool.workers.values():
                current = worker.current()
                if current is not None and worker.batches:
                    timeout = min(timeout, max(0.0, current[1] + run.spec.timeout_s - now))
        return timeout

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
            self.queue.append(cmd.prepared)
        elif cmd.verb == "pause" and is_current and run is not None and run.state is JobState.RUNNING:
            self.set_state(run, JobState.PAUSED)
        elif cmd.verb == "unpause" and is_current and run is not None and run.state is JobState.PAUSED:
            self.set_state(run, JobState.RUNNING)
        elif cmd.verb in ("cancel", "interrupt"):
            state = JobState.CANCELLED if cmd.verb == "cancel" else JobState.INTERRUPTED
            if is_current:
                self.stop_running(state)
            else:
                self.drop_queued(cmd.job_id, state)
        elif cmd.verb == "workers":
            self.engine.workers_override = cmd.value
            self.fit_pool()
        elif cmd.verb == "shutdown":
            self.stopping = True
            for prepared in list(self.queue):
                self.drop_queued(prepared.job_id, JobState.INTERRUPTED)
            if self.run_ is not None:
                self.stop_running(JobState.INTERRUPTED)

    def drop_queued(self, job_id: str, state: JobState) -> None:
        for prepared in list(self.queue):
            if prepared.job_id == job_id:
                self.queue.remove(prepared)
                self.journal.set_job_state(job_id, state)
                self.engine._states[job_id] = state
                counts = self.journal.get_job(job_id)
                self.emit(JobFinished(job_id, state, counts.total if counts else 0, counts.done if counts else 0,
                                      counts.failed if counts else 0, counts.skipped if counts else 0, 0.0))

    # -- job life cycle ---------------------------------------------------
    def begin(self, prepared: PreparedJob) -> None:
        run = JobRun(prepared, self.journal, self.emit)
        self.run_ = run
        self.paused = False
        self.set_state(run, JobState.PLANNING)
        self.fit_pool()  # workers start up while the inputs are scanned
        try:
            run.begin(lambda message: self.emit(Log("info", message, run.job_id)))
        except PlanError as exc:
            self.end(JobState.ERROR, str(exc))
            return
        if run.planning is None:
            self.start_running(run)

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
        self.emit(JobStarted(run.job_id, run.total, run.done, run.skipped, run.failed, self.target_workers()))
        self.emit(run.progress_event())

    def set_state(self, run: JobRun, state: JobState) -> None:
        run.state = state
        self.engine._states[run.job_id] = state
        self.journal.set_job_state(run.job_id, state, elapsed=run.elapsed)
        self.emit(JobStateChanged(run.job_id, state))

    def stop_running(self, state: JobState) -> None:
        """Cancel, interrupt or halt: kill the workers holding this job's files, keep what is done."""
        run = self.run_
        assert run is not None
        for worker in list(self.pool.workers.values()):
            if worker.batches:
                self.drain(worker)
                self.pool.kill(worker)
                self.release(run, worker, pinned=None)
                self.emit(WorkerExited(worker.id, None, f"stopped: job {state.value}"))
        self.end(state)

    def end(self, state: JobState, error: str | None = None) -> None:
        run = self.run_
        assert run is not None
        if state is JobState.COMPLETED:
            try:
                for line in run.prepared.processor.finalize(
                        run.prepared.params, run.prepared.roots, self.journal_results(run), run.spec.overwrite.value):
                    self.emit(Log("info", line, run.job_id))
            except Exception as exc:  # noqa: BLE001 - reported as the job's error
                state, error = JobState.ERROR, f"the final step of {run.spec.processor!r} failed: {exc}"
        run.flush(force=True)
        run.state = state
        self.engine._states[run.job_id] = state
        self.journal.set_job_state(run.job_id, state, error=error, elapsed=run.elapsed)
        self.emit(JobStateChanged(run.job_id, state))
        self.emit(run.progress_event())
        self.emit(JobFinished(run.job_id, state, run.total, run.done, run.failed, run.skipped, run.elapsed, error))
        self.run_ = None
        if self.stopping or not self.queue:
            self.fit_pool()

    def journal_results(self, run: JobRun) -> Any:
        run.flush(force=True)
        return self.journal.done_results(run.job_id)

    def tick(self) -> None:
        run = self.run_
        if run is None:
            return
        self.check_timeouts(run)
        if run.state is JobState.RUNNING and run.should_halt():
            self.emit(Log("warning", f"halting: {run.failed} files failed (--halt-after {run.spec.halt_after})",
                          run.job_id))
            self.stop_running(JobState.HALTED)
            return
        if run.state is JobState.RUNNING and run.finished:
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

    # -- workers ----------------------------------------------------------
    def target_workers(self) -> int:
        if self.engine.workers_override is not None:
            return self.engine.workers_override
        return self.run_.spec.workers if self.run_ is not None else 0

    def fit_pool(self) -> None:
        """Grow or shrink the pool to the target; extra workers finish their batches first."""
        if self.stopping:
            return
        target = self.target_workers() if self.run_ is not None else len(self.pool.live())
        active = [w for w in self.pool.live() if not w.retiring]
        while len(active) < target:
            active.append(self.pool.start())
        for worker in active[target:]:
            self.pool.ask_to_stop(worker)

    def dispatch(self, run: JobRun) -> None:
        limit = run.spec.max_files_per_worker
        workers = [w for w in self.pool.live() if not w.retiring]
        for worker in workers:
            while len(worker.batches) < BATCHES_PER_WORKER and run.pending:
                size = run.sizer.size(len(workers), len(run.pending))
                if limit:
                    size = min(size, limit - worker.files_sent)
                tasks = run.take(size)
                self.batch_seq += 1
                known = run.prepared.payload_key in worker.payload_keys
                batch = RunBatch(self.batch_seq, run.job_id, run.prepared.payload_key,
                                 None if known else run.prepared.payload, tuple(tasks), self.scratch)
                try:
                    self.pool.send(worker, batch, [t.file_id for t in tasks])
                except OSError:
                    for task in reversed(tasks):
                        run.requeue(task.file_id)
                    break  # the worker is dead; its sentinel will say so
                worker.payload_keys.add(run.prepared.payload_key)
                if limit and worker.files_sent >= limit:
                    self.pool.ask_to_stop(worker)  # recycled: a fresh worker takes its place
                    self.fit_pool()
                    break

    def drain(self, worker: WorkerHandle) -> bool:
        """Read everything the worker has sent. False if its pipe is closed."""
        try:
            while worker.conn.poll():
                self.on_message(worker, worker.conn.recv())
        except (EOFError, OSError):
            return False
        return True

    def on_message(self, worker: WorkerHandle, message: object) -> None:
        run = self.run_
        if isinstance(message, Results):
            batch = worker.batches.get(message.batch_id)
            if batch is None or run is None or batch.job_id != run.job_id:
                return
            for outcome in message.outcomes:
                if outcome.file_id in batch.pending:
                    batch.pending.discard(outcome.file_id)
                    worker.files_done += 1
                    run.on_outcome(outcome)
            if message.outcomes:
                run.sizer.observe(sum(o.duration_s for o in message.outcomes), len(message.outcomes))
            if message.batch_done:
                del worker.batches[message.batch_id]
        elif isinstance(message, Started) and run is not None:
            self.emit(FileStarted(run.job_id, message.file_id, run.input_of(message.file_id), worker.id))
        elif isinstance(message, Progress) and run is not None:
            self.emit(FileProgress(run.job_id, message.file_id, worker.id, message.fraction, message.message))
        elif isinstance(message, PayloadBroken) and run is not None:
            batch = worker.batches.pop(message.batch_id, None)
            for file_id in (batch.pending if batch else ()):
                run.requeue(file_id)
            self.emit(Log("error", message.failure.message + "\n" + message.failure.traceback, run.job_id))
            self.fail_job(message.failure.message)

    def fail_job(self, error: str) -> None:
        run = self.run_
        if run is None:
            return
        for worker in list(self.pool.workers.values()):
            if worker.batches:
                self.pool.kill(worker)
                self.release(run, worker, pinned=None)
        self.end(JobState.ERROR, error)

    def release(self, run: JobRun, worker: WorkerHandle, pinned: tuple[int, Failure] | None) -> None:
        """Give back the files a lost worker held: the pinned one fails, the rest go out again."""
        lost = [fid for batch in worker.batches.values() if batch.job_id == run.job_id for fid in batch.file_ids
                if fid in batch.pending]
        worker.batches.clear()
        current = worker.current()
        if current is not None:
            run.remove_tmp(current[0])
        for file_id in reversed(lost):
            if pinned is not None and file_id == pinned[0]:
                continue
            run.requeue(file_id)
        if pinned is not None and pinned[0] in lost:
            run.fail(pinned[0], pinned[1])

    def on_death(self, worker: WorkerHandle) -> None:
        worker.process.join(1.0)
        reason = describe_exit(worker.process.exitcode)
        run = self.run_
        current = worker.current()
        expected = worker.retiring and not worker.batches
        if run is not None and worker.batches:
            pinned = None
            if current is not None:
                pinned = (current[0], Failure(FailureKind.WORKER_DIED, f"{reason} while processing this file"))
            else:
                run.unpinned_deaths += 1
            self.release(run, worker, pinned)
        self.pool.forget(worker)
        if not expected:
            self.emit(WorkerExited(worker.id, worker.pid, reason))
            self.emit(Log("warning", f"worker {worker.id}: {reason}", run.job_id if run else None))
        if run is not None and run.unpinned_deaths >= MAX_UNPINNED_DEATHS:
            self.fail_job(f"worker processes keep dying before they start on a file ({reason})")
            return
        if run is not None and not self.stopping:
            self.fit_pool()

    def check_timeouts(self, run: JobRun) -> None:
        limit = run.spec.timeout_s
        if limit is None or run.state not in (JobState.RUNNING, JobState.PAUSED):
            return
        now = time.time()
        for worker in list(self.pool.workers.values()):
            current = worker.current()
            if current is None or not worker.batches or now - current[1] < limit:
                continue
            self.drain(worker)
            current = worker.current()
            if current is None or now - current[1] < limit:
                continue
            self.pool.kill(worker)
            failure = Failure(FailureKind.TIMEOUT,
                              f"ran longer than the {limit:g} s timeout; its worker process was killed")
            self.release(run, worker, (current[0], failure))
            self.emit(WorkerExited(worker.id, None, "killed: file timed out"))
            self.fit_pool()

    def announce_workers(self, run: JobRun) -> None:
        for worker in self.pool.live():
            current = worker.current() if worker.batches else None
            if current == worker.announced:
                continue
            worker.announced = current
            if current is None:
                self.emit(WorkerStatus(worker.id, worker.pid, None, None, None, None, None, run.spec.timeout_s))
            else:
                self.emit(WorkerStatus(worker.id, worker.pid, run.job_id, current[0], run.input_of(current[0]),
                                       current[1], None, run.spec.timeout_s))

