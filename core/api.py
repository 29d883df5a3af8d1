"""The Python API: run a function, or a processor by name, over files and folders, from a
script, a notebook or a host program (a QGIS or ArcGIS script tool).

    result = batchmill.run(lambda src, dst: dst.write_text(src.read_text().upper()),
                           ["~/in"], "~/out", workers=4, progress=print)
    for failure in result.failures:
        print(failure.input, failure.error)

``run()`` blocks and calls ``progress`` on the calling thread; ``submit()`` returns a
``Job`` at once (progress, wait, cancel, the files as they finish) and calls ``progress``
on a thread of its own. Both bootstrap the process themselves, check every argument before
any worker starts (``JobError``, or ``TypeError`` for an argument of the wrong kind), and
journal the job like the command line does: ``batchmill jobs``, ``resume`` and ``retry``
work on it, with the function as it was shipped. A file that fails is in the result; only
a job that cannot run at all ends in state ``"error"``.

A function is called ``fn(src, dst, **params)`` for every file, with ``context=`` as well
if it declares a parameter of that name (progress within a file, a scratch folder); it
travels to the workers by value (dill), so a lambda, a closure over a tool's parameters or
a function of the host's ``__main__`` all work, and the workers never run the caller's
script again.
"""

from __future__ import annotations

import atexit
import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from batchmill.core.bootstrap import bootstrap, refuse_in_worker
from batchmill.core.engine import Engine
from batchmill.core.events import (
    EngineStopped, Event, FileFailed, FileFinished, FileStatus, JobFinished, JobProgress, JobStarted, JobState,
)
from batchmill.core.exit_status import exit_status
from batchmill.core.inputs_list import ListError, listed_inputs
from batchmill.core.prepare import JobError
from batchmill.core.processors.function import NAME as FUNCTION, FunctionProcessor, describe
from batchmill.core.spec import JobSpec, default_workers

__all__ = ["FileResult", "Job", "JobError", "JobResult", "Preview", "Progress", "ScanSkip", "preview", "resume", "retry", "run",
           "submit"]

PathLike = str | os.PathLike[str]
Overwrite = Literal["skip", "replace", "rename", "changed"]
PUMP_WAIT_S = 0.1  # how long the event pump blocks before it looks at a cancel or a timeout again


@dataclass(frozen=True)
class Progress:
    """A job's counts. ``total`` grows while the inputs are scanned; the others never go down,
    and when the job ends ``done + failed + skipped == total`` (unless it was stopped)."""

    job_id: str
    total: int
    done: int
    failed: int
    skipped: int
    files_per_s: float = 0.0
    eta_s: float | None = None

    @property
    def finished(self) -> int:
        return self.done + self.failed + self.skipped

    @property
    def fraction(self) -> float | None:
        return self.finished / self.total if self.total else None


@dataclass(frozen=True)
class FileResult:
    """One input file's outcome. ``output`` is where its output went (None when the processor
    makes none, or the function wrote nothing); ``value`` is what the function returned."""

    input: Path
    status: Literal["done", "skipped", "failed", "pending"]  # pending: not reached, the job was stopped
    output: Path | None = None
    value: Any = None
    error: str | None = None
    kind: str | None = None  # why it failed: processor-error, input-error, timeout, crash … (FailureKind)
    traceback: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("done", "skipped")


@dataclass(frozen=True)
class ScanSkip:
    """An entry the scan left out, not a file of the job: a broken link, a special file (a FIFO,
    a device), a symlinked folder leading back up the tree. ``reason`` says which."""

    path: Path
    reason: str


@dataclass(frozen=True)
class JobResult:
    """A finished job, read back from the journal: every file, including those a resumed or
    retried job had done before."""

    job_id: str
    state: str  # completed, cancelled, interrupted, halted or error
    total: int
    done: int
    failed: int
    skipped: int
    elapsed_s: float
    error: str | None  # why the job itself failed (state "error"), or that no file matched (total 0)
    files: tuple[FileResult, ...]
    scan_skipped: int = 0  # entries the scan left out (not among total), and the first of them:
    scan_skips: tuple[ScanSkip, ...] = ()

    @property
    def ok(self) -> bool:
        """Every file done or skipped."""
        return self.state == JobState.COMPLETED.value and self.failed == 0

    @property
    def failures(self) -> tuple[FileResult, ...]:
        return tuple(f for f in self.files if f.status == "failed")

    def values(self) -> dict[Path, Any]:
        """What the function returned, for every file done."""
        return {f.input: f.value for f in self.files if f.status == "done"}

    @property
    def exit_status(self) -> int:
        """What ``batchmill run`` would exit with: 0, 1 (files failed), 2 (error), 4 (no file to
        process), 130 (stopped); see batchmill.core.exit_status."""
        return exit_status(JobState(self.state), self.total, self.failed)


ProgressCallback = Callable[[Progress], object]


class Job:
    """A job started by ``submit()``, ``resume()`` or ``retry()``. Thread-safe.

    Iterating it yields every file as it finishes (until the job ends); ``wait()`` returns the
    JobResult. ``with batchmill.submit(...) as job:`` cancels a job still running at the end
    of the block. The job's worker processes are gone once it has finished."""

    def __init__(self, engine: Engine, job_id: str, progress: ProgressCallback | None) -> None:
        self.id = job_id
        self._engine = engine
        self._callback = progress
        self._changed = threading.Condition()
        self._files: list[FileResult] = []
        self._progress = Progress(job_id, 0, 0, 0, 0)
        self._state = JobState.QUEUED.value
        self._result: JobResult | None = None
        self._callback_error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._engine_error: str | None = None  # why the engine thread stopped, if it said

    def __repr__(self) -> str:
        return f"<batchmill.Job {self.id} {self.state} {self._progress.finished}/{self._progress.total}>"

    # -- what callers use -------------------------------------------------
    @property
    def state(self) -> str:
        return self._state

    @property
    def progress(self) -> Progress:
        return self._progress

    def done(self) -> bool:
        return self._result is not None

    def cancel(self) -> None:
        """Stop the job: running files are stopped, the journal keeps what is done (``resume`` continues)."""
        if self._result is None:
            try:
                self._engine.cancel(self.id)
            except RuntimeError:  # the engine is shut down: the job has just ended
                pass

    def wait(self, timeout: float | None = None) -> JobResult:
        """The job's result once it has ended; TimeoutError if ``timeout`` seconds pass first.
        An exception raised by the progress callback is raised here (the job was cancelled)."""
        if self._thread is None:
            self._follow()
        with self._changed:
            if not self._changed.wait_for(lambda: self._result is not None, timeout):
                raise TimeoutError(f"job {self.id} is still {self._state} after {timeout} s")
        if self._callback_error is not None:
            raise self._callback_error
        assert self._result is not None
        return self._result

    def __iter__(self) -> Iterator[FileResult]:
        seen = 0
        while True:
            with self._changed:
                self._changed.wait_for(lambda: len(self._files) > seen or self._result is not None)
                fresh = self._files[seen:]
                ended = self._result is not None and len(self._files) == seen + len(fresh)
            seen += len(fresh)
            yield from fresh
            if ended:
                return

    def __enter__(self) -> Job:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._result is None:
            self.cancel()
        self._follow_until_result()

    # -- the event pump ---------------------------------------------------
    def _start_thread(self) -> None:
        self._thread = threading.Thread(target=self._follow, name=f"batchmill-job-{self.id}", daemon=True)
        self._thread.start()

    def _follow_until_result(self) -> None:
        if self._thread is None:
            self._follow()
        else:
            self._thread.join()

    def _follow(self) -> None:
        """Drain the engine's events until the job ends, then read the result and let the engine go.
        Runs on the caller's thread (``run()``) or on the job's own thread (``submit()``)."""
        events = self._engine.events
        try:
            while self._result is None:
                try:
                    event = events.get(timeout=PUMP_WAIT_S)
                except queue.Empty:
                    if not self._engine.alive and events.empty():  # nothing more can come
                        self._engine_gone()
                    continue
                try:
                    self._handle(event)
                except KeyboardInterrupt:
                    self._engine.interrupt(self.id)  # recorded as interrupted: resume continues
                    self._follow()
                    raise
        finally:
            if self._result is None:  # an error in the pump itself: never leave workers behind
                self._finish(None)

    def _handle(self, event: Event) -> None:
        match event:
            case JobProgress(job_id=self.id):
                self._report(Progress(self.id, event.total, event.done, event.failed, event.skipped,
                                      event.files_per_s, event.eta_s))
            case JobStarted(job_id=self.id):
                self._set_state(JobState.RUNNING.value)
                self._report(Progress(self.id, event.total, event.done, event.failed, event.skipped))
            case FileFinished(job_id=self.id):
                self._add(FileResult(Path(event.input), "skipped" if event.skipped else "done",
                                     Path(event.output) if event.output else None, event.value))
            case FileFailed(job_id=self.id, will_retry=False):
                self._add(FileResult(Path(event.input), "failed", None, None, event.error, event.kind.value,
                                     event.traceback))
            case EngineStopped():
                self._engine_error = event.error
            case JobFinished(job_id=self.id):
                self._report(Progress(self.id, event.total, event.done, event.failed, event.skipped,
                                      self._progress.files_per_s, 0.0))
                self._finish(event)
            case _:
                pass  # worker status, logs, state changes: the result and the journal say what matters

    def _engine_gone(self) -> None:
        p = self._progress
        self._finish(JobFinished(self.id, JobState.ERROR, p.total, p.done, p.failed, p.skipped, 0.0,
                                 self._engine_error or "the engine stopped before the job finished"))

    def _report(self, progress: Progress) -> None:
        old = self._progress
        if (progress.total, progress.finished) == (old.total, old.finished) and progress.done == old.done:
            return
        self._progress = progress
        if self._callback is None or self._callback_error is not None:
            return
        try:
            self._callback(progress)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - re-raised from wait(); the job is stopped
            self._callback_error = exc
            self.cancel()

    def _add(self, file: FileResult) -> None:
        with self._changed:
            self._files.append(file)
            self._changed.notify_all()

    def _set_state(self, state: str) -> None:
        with self._changed:
            self._state = state
            self._changed.notify_all()

    def _finish(self, finished: JobFinished | None) -> None:
        engine = self._engine
        try:
            result = read_result(engine, self.id, finished)
        finally:
            engine.close()
            atexit.unregister(engine.shutdown)
        with self._changed:
            self._result = result
            self._state = result.state
            self._changed.notify_all()


def read_result(engine: Engine, job_id: str, finished: JobFinished | None) -> JobResult:
    """The job as the journal has it now, every file in planning order."""
    job = engine.journal.get_job(job_id)
    files = tuple(_file_result(record) for record in engine.journal.files(job_id))
    if finished is not None:
        return JobResult(job_id, finished.state.value, finished.total, finished.done, finished.failed,
                         finished.skipped, finished.elapsed_s, finished.error, files, finished.scan_skipped,
                         tuple(ScanSkip(Path(path), why) for path, why in finished.scan_skips))
    if job is None:
        return JobResult(job_id, JobState.ERROR.value, 0, 0, 0, 0, 0.0, "the job is missing from the journal", files)
    return JobResult(job_id, job.shown_state.value, job.total, job.done, job.failed, job.skipped, job.elapsed,
                     job.error or "the job was not followed to its end", files, job.scan_skipped,
                     tuple(ScanSkip(Path(path), why) for path, why in job.scan_skips))


def _file_result(record: Any) -> FileResult:
    status = {FileStatus.DONE: "done", FileStatus.SKIPPED: "skipped", FileStatus.FAILED: "failed"}.get(
        record.state, "pending")
    output = Path(record.output) if record.output and status == "done" else None
    return FileResult(Path(record.input), status, output, record.result,  # type: ignore[arg-type]
                      record.error, record.kind, record.traceback)


# -- starting jobs ----------------------------------------------------------
def run(task: Callable[..., Any] | str, inputs: PathLike | Iterable[PathLike], output: PathLike, *,
        params: Mapping[str, Any] | None = None, workers: int | None = None, timeout: float | None = None,
        retries: int = 0, overwrite: Overwrite = "skip", name: str | None = None,
        include: Iterable[str] = (), exclude: Iterable[str] = (), recursive: bool = True,
        ignore_case: bool | None = None, halt_after: str | int | None = None,
        max_files_per_worker: int | None = None, job_name: str = "",
        backend: Literal["local", "dask"] = "local", scheduler: str | None = None,
        progress: ProgressCallback | None = None, home: PathLike | None = None,
        python: PathLike | None = None, root: PathLike | None = None,
        provenance: Literal["journal", "sidecar"] = "journal") -> JobResult:
    """Run ``task`` over every file of ``inputs`` and return the JobResult when the job ends.

    ``task``: a callable ``fn(src, dst, **params)`` (any: a lambda, a closure, a method), or
    the name of a processor (``"checksum"``, ``"image"``, a plugin's; see ``batchmill
    processors``). ``inputs``: files and folders; a folder ``X`` is mirrored as
    ``output/X.name/…``. ``params``: the function's keyword arguments, or the processor's
    parameters. The other options are the command line's: ``workers`` (default: CPU cores
    - 1), ``timeout`` per file in seconds, ``retries``, ``overwrite``, ``name`` (output names,
    e.g. ``"{stem}_small{ext}"``), ``include``/``exclude`` globs (``**`` crosses folders),
    ``ignore_case`` (None: as the platform's file systems do), ``recursive``, ``root`` (``inputs``
    are then files under that folder, laid out as a run on it: ``output/root.name/…``),
    ``provenance`` (``"sidecar"``: also a ``<output>.provenance.json`` beside each output),
    ``halt_after`` (``5`` or ``"10%"``), ``max_files_per_worker``, ``job_name``, ``backend``
    and ``scheduler``. ``progress`` is called on this thread with a Progress as counts change.
    ``home`` is the folder of the journal (default: ``BATCHMILL_HOME`` or the user data
    folder); ``python`` the interpreter workers run, for a host whose own program is not one
    (default: ``BATCHMILL_PYTHON``, else found). Ctrl-C stops the job (recorded as interrupted,
    so ``resume`` continues) and is raised again. Raises JobError before any work starts if
    the job cannot run."""
    job = _start(task, inputs, output, params, workers, timeout, retries, overwrite, name, include, exclude,
                 recursive, ignore_case, halt_after, max_files_per_worker, job_name, backend, scheduler, progress,
                 home, python, root=root, provenance=provenance)
    return job.wait()


def submit(task: Callable[..., Any] | str, inputs: PathLike | Iterable[PathLike], output: PathLike, *,
           params: Mapping[str, Any] | None = None, workers: int | None = None, timeout: float | None = None,
           retries: int = 0, overwrite: Overwrite = "skip", name: str | None = None,
           include: Iterable[str] = (), exclude: Iterable[str] = (), recursive: bool = True,
           ignore_case: bool | None = None, halt_after: str | int | None = None,
           max_files_per_worker: int | None = None, job_name: str = "",
           backend: Literal["local", "dask"] = "local", scheduler: str | None = None,
           progress: ProgressCallback | None = None, home: PathLike | None = None,
           python: PathLike | None = None, root: PathLike | None = None,
           provenance: Literal["journal", "sidecar"] = "journal") -> Job:
    """Start ``task`` over ``inputs`` and return its Job at once (same arguments as ``run()``;
    ``progress`` is called on the job's own thread). Raises JobError if the job cannot run."""
    job = _start(task, inputs, output, params, workers, timeout, retries, overwrite, name, include, exclude,
                 recursive, ignore_case, halt_after, max_files_per_worker, job_name, backend, scheduler, progress,
                 home, python, root=root, provenance=provenance)
    job._start_thread()
    return job


def resume(job_id: str | None = None, *, progress: ProgressCallback | None = None, home: PathLike | None = None,
           python: PathLike | None = None) -> Job:
    """Continue an interrupted, cancelled or halted job (default: the latest), as ``batchmill
    resume`` does: files done stay done, a function job runs its journaled function."""

    def start(engine: Engine) -> str:
        wanted = job_id
        if wanted is None:
            latest = engine.journal.latest_resumable()
            if latest is None:
                raise JobError(f"there is no interrupted or halted job to resume in {engine.journal.path}")
            wanted = latest.id
        found = _job_id(engine, wanted)
        return engine.resume(found).result()  # decided on the engine thread: a refusal raises JobError

    return _again(start, progress, home, python)


def retry(job_id: str, *, progress: ProgressCallback | None = None, home: PathLike | None = None,
          python: PathLike | None = None) -> Job:
    """Run the failed files of a finished job again, as ``batchmill retry`` does."""

    def start(engine: Engine) -> str:
        found = _job_id(engine, job_id)
        return engine.retry(found).result()

    return _again(start, progress, home, python)


def _job_id(engine: Engine, job_id: str) -> str:
    """The full id of the job ``job_id`` names (it may be a prefix), or JobError."""
    try:
        job = engine.journal.get_job(job_id)
    except LookupError as exc:
        raise JobError(str(exc)) from None
    if job is None:
        raise JobError(f"no job {job_id!r} in the journal {engine.journal.path}")
    return job.id


def _again(start: Callable[[Engine], str], progress: ProgressCallback | None, home: PathLike | None,
           python: PathLike | None) -> Job:
    refuse_in_worker("a job")
    bootstrap(python)
    engine = _engine(home)
    try:
        with _journal_trouble_as_job_error():
            job = Job(engine, start(engine), progress)
    except BaseException:
        engine.close()
        raise
    job._start_thread()
    return job


def _engine(home: PathLike | None) -> Engine:
    with _journal_trouble_as_job_error():
        return Engine(Path(home).expanduser() if home is not None else None, file_events=True, keep_workers=False)


@contextmanager
def _journal_trouble_as_job_error() -> Iterator[None]:
    """A journal that cannot be used means the job cannot start: the API's JobError, with the
    journal's own message (which file, what to do)."""
    from batchmill.core.journal_trouble import JournalError

    try:
        yield
    except JournalError as exc:
        raise JobError(str(exc)) from None


def _start(task: Callable[..., Any] | str, inputs: PathLike | Iterable[PathLike], output: PathLike,
           params: Mapping[str, Any] | None, workers: int | None, timeout: float | None, retries: int,
           overwrite: Overwrite, name: str | None, include: Iterable[str], exclude: Iterable[str],
           recursive: bool, ignore_case: bool | None,
           halt_after: str | int | None, max_files_per_worker: int | None, job_name: str,
           backend: Literal["local", "dask"], scheduler: str | None, progress: ProgressCallback | None,
           home: PathLike | None, python: PathLike | None, *, root: PathLike | None = None,
           provenance: str = "journal") -> Job:
    refuse_in_worker("a job")  # a child re-running an unguarded tool script must not start one again
    bootstrap(python)
    if params is not None and not isinstance(params, Mapping):
        raise TypeError(f"params must be a mapping of names to values, not {type(params).__name__}")
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be a callable taking a batchmill.Progress, not {type(progress).__name__}")
    processor, processor_name, spec_params = _task(task, params)
    spec = _spec(processor_name, spec_params, inputs, output, workers, timeout, retries, overwrite, name, include,
                 exclude, recursive, ignore_case, halt_after, max_files_per_worker, job_name, backend, scheduler,
                 root=root, provenance=provenance)
    engine = _engine(home)
    try:
        with _journal_trouble_as_job_error():
            job = Job(engine, engine.submit(spec, processor), progress)
    except BaseException:
        engine.close()
        raise
    return job



def _task(task: Any, params: Mapping[str, Any] | None) -> tuple[FunctionProcessor | None, str, dict[str, Any]]:
    """A processor's name, or a callable run as the ``function`` processor: (the callable's
    processor or None, the name the spec records, the parameters it records)."""
    if isinstance(task, str):
        return None, task, dict(params or {})
    if callable(task):
        spec_params = {"function": describe(task), "params": {k: _shown(v) for k, v in (params or {}).items()}}
        return FunctionProcessor(task, params), FUNCTION, spec_params
    raise TypeError(f"task must be a callable fn(src, dst, **params) or a processor's name, "
                    f"not {type(task).__name__}")

def _spec(processor: str, params: dict[str, Any], inputs: PathLike | Iterable[PathLike], output: PathLike,
          workers: int | None, timeout: float | None, retries: int, overwrite: Overwrite, name: str | None,
          include: Iterable[str], exclude: Iterable[str], recursive: bool, ignore_case: bool | None,
          halt_after: str | int | None,
          max_files_per_worker: int | None, job_name: str, backend: str, scheduler: str | None, *,
          root: PathLike | None = None, provenance: str = "journal") -> JobSpec:
    paths = _paths(inputs)
    if not paths:
        raise JobError("no inputs given: name at least one file or folder")
    files: tuple[str, ...] = ()
    if root is not None:  # files listed under a root: laid out as a run on the root (batchmill.core.inputs_list)
        try:
            listed = listed_inputs(paths, str(Path(root).expanduser()))
        except ListError as exc:
            raise JobError(str(exc)) from None
        paths, files = [listed.root], listed.files
    if not isinstance(output, (str, os.PathLike)):
        raise TypeError(f"output must be a folder's path, not {type(output).__name__}")
    for label, globs in (("include", include), ("exclude", exclude)):
        if isinstance(globs, str):
            raise TypeError(f"{label} must be a list of patterns, not one string ({globs!r}): use [{globs!r}]")
    try:
        spec = JobSpec(
            processor=processor, inputs=tuple(paths), output=str(Path(output).expanduser()), params=params,
            include=tuple(include), exclude=tuple(exclude), recursive=recursive,
            overwrite=overwrite,  # type: ignore[arg-type]
            workers=default_workers() if workers is None else workers, timeout_s=timeout, retries=retries,
            max_files_per_worker=max_files_per_worker,
            halt_after=None if halt_after is None else str(halt_after), name=job_name, name_template=name,
            backend=backend, scheduler=scheduler, ignore_case=ignore_case, files=files, provenance=provenance)
        spec.to_json()  # what the journal will hold
    except ValueError as exc:
        raise JobError(str(exc)) from None
    except TypeError as exc:
        if "JSON" in str(exc):
            raise JobError(str(exc)) from None
        raise
    return spec


def _paths(inputs: PathLike | Iterable[PathLike]) -> list[str]:
    items: Iterable[Any] = [inputs] if isinstance(inputs, (str, os.PathLike)) else inputs
    paths = []
    for item in items:
        if not isinstance(item, (str, os.PathLike)):
            raise TypeError(f"inputs must be paths of files and folders, not {type(item).__name__} ({item!r})")
        paths.append(str(Path(item).expanduser()))
    return paths


def _shown(value: Any) -> Any:
    """A function's parameter as the journal shows it (the function gets the value itself)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return repr(value)


# -- previews -----------------------------------------------------------------
class Preview:
    """What a job would do to every file, decided without running anything (``batchmill run …
    --dry-run``). Iterating it streams a ``FileVerdict`` per file (``verdict``, ``input``,
    ``output``, ``reason``) as the scan finds it; ``counts`` (verdict -> number of files),
    ``to_run`` and ``collisions`` read the rest of the scan first if it is not done yet."""

    def __init__(self, setup: Any, journal: Any, sample: bool = False) -> None:
        from batchmill.core.preview import Tally, picker_for

        self._setup = setup
        self._journal = journal
        self._tally = Tally()
        self._started = False
        self._ended = False
        self._picker = picker_for(setup, sample)  # estimate="sample" without history: files to time
        self._guess: Any = None
        self.estimate_basis: str | None = None  # "history", "sample" or None, once estimate_s is read

    def __iter__(self) -> Iterator[Any]:
        from batchmill.core.preview import iter_preview

        if self._started:
            raise RuntimeError("a Preview streams its files once; call batchmill.preview() again")
        self._started = True
        try:
            picker = self._picker
            for verdict in iter_preview(self._setup):
                self._tally.add(verdict)
                if picker is not None and verdict.verdict.runs and verdict.input is not None:
                    picker.add(verdict.input, verdict.output, verdict.size)
                yield verdict
        finally:
            self._ended = True
            self._journal.close()

    def _finish(self) -> None:
        if not self._started:
            for _ in self:
                pass

    @property
    def counts(self) -> dict[str, int]:
        self._finish()
        return {verdict.value: n for verdict, n in self._tally.counts.items() if n}

    @property
    def to_run(self) -> int:
        self._finish()
        return self._tally.to_run

    @property
    def collisions(self) -> int:
        self._finish()
        return self._tally.collisions

    @property
    def estimate_s(self) -> float | None:
        """About how many seconds the files to run would take (from the journal's history of
        this processor; without history, with ``estimate="sample"``, from a few files timed the
        first time this is read), or None. ``estimate_basis`` then says which."""
        self._finish()
        if self._guess is None:
            from batchmill.core.preview import sampled_estimate

            self._guess = self._setup.estimate(self._tally)
            if self._guess is not None:
                self.estimate_basis = "history"
            elif self._picker is not None and self._tally.to_run and not self._tally.collisions:
                self._guess = sampled_estimate(self._setup, self._picker, self._tally)[0]
                self.estimate_basis = "sample" if self._guess is not None else None
        return None if self._guess is None else float(self._guess.seconds)


def preview(task: Callable[..., Any] | str, inputs: PathLike | Iterable[PathLike], output: PathLike, *,
            params: Mapping[str, Any] | None = None, overwrite: Overwrite = "skip", name: str | None = None,
            include: Iterable[str] = (), exclude: Iterable[str] = (), recursive: bool = True,
            ignore_case: bool | None = None, hash_inputs: bool = False, home: PathLike | None = None,
            provenance: Literal["journal", "sidecar"] = "journal",
            estimate: Literal["history", "sample"] = "history", workers: int | None = None) -> Preview:
    """What ``run()`` with these arguments would do to every file, without running anything:
    a Preview streaming one FileVerdict per file (new, up to date, will replace, will be
    renamed, kept, collision, excluded, skipped by the scanner, each with its reason).
    ``estimate="sample"``: where the journal has no history of the processor, ``estimate_s``
    times a few of the files (up to 3, ~2 s, in a worker of its own, into a scratch folder) —
    the only processor a preview ever runs. ``workers``: what the estimate spreads over.
    Raises JobError if the job could not start at all."""
    from batchmill.core.journal import Journal
    from batchmill.core.preview import PreviewError, checked_set_up

    processor, processor_name, spec_params = _task(task, params)
    if estimate not in ("history", "sample"):
        raise JobError(f"estimate must be history or sample, not {estimate!r}")
    spec = _spec(processor_name, spec_params, inputs, output, workers, None, 0, overwrite, name, include, exclude,
                 recursive, ignore_case, None, None, "", "local", None,
                 provenance=provenance).with_changes(hash_inputs=hash_inputs)
    journal = Journal(Path(home).expanduser() if home is not None else None)
    try:
        setup = checked_set_up(spec, journal, processor)
    except PreviewError as exc:
        journal.close()
        raise JobError(str(exc)) from None
    return Preview(setup, journal, sample=estimate == "sample")
