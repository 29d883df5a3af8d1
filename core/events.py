"""Events the engine puts on its queue for a front end (CLI or GUI) to poll.

Every event is a small frozen dataclass with picklable fields, so the same
objects can cross a thread or a process boundary. Nothing here calls back into
a front end: front ends drain ``Engine.events`` at their own pace.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from batchmill.core.lifecycle import JobState as JobState  # the one life-cycle table (re-exported: events carry states)
from batchmill.core.messages import FailureKind as FailureKind  # defined with the worker's messages: workers never import this module


class FileStatus(str, enum.Enum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Event:
    """Base of every engine event."""


@dataclass(frozen=True, slots=True)
class JobQueued(Event):
    job_id: str
    name: str
    processor: str


@dataclass(frozen=True, slots=True)
class JobStarted(Event):
    job_id: str
    total: int
    done: int
    skipped: int
    failed: int
    workers: int
    scanning: bool = False  # the inputs are still being scanned: total is "files found so far"


@dataclass(frozen=True, slots=True)
class JobProgress(Event):
    job_id: str
    total: int
    done: int
    failed: int
    skipped: int
    files_per_s: float  # over a recent window of running time (batchmill.core.progress)
    eta_s: float | None
    scanning: bool = False  # the inputs are still being scanned: total is "files found so far"


@dataclass(frozen=True, slots=True)
class JobStateChanged(Event):
    job_id: str
    state: JobState


@dataclass(frozen=True, slots=True)
class JobFinished(Event):
    job_id: str
    state: JobState
    total: int
    done: int
    failed: int
    skipped: int
    elapsed_s: float
    error: str | None = None
    scan_skipped: int = 0  # entries the scan left out (a broken link, a special file): not files of the job
    scan_skips: tuple[tuple[str, str], ...] = ()  # (path, why) of the first of them


@dataclass(frozen=True, slots=True)
class VerbRefused(Event):
    """A resume or retry the engine declined: decided on its own thread, from the job's state as
    it was then (two resumes of one job at once: one runs it, the other gets this). ``message``
    is for a person; the caller's Future raises it as the JobError."""
    job_id: str
    verb: str  # batchmill.core.lifecycle.Verb's value
    message: str


@dataclass(frozen=True, slots=True)
class JobForgotten(Event):
    """A job deleted from the journal for good (``Engine.forget``); its outputs stay."""
    job_id: str


@dataclass(frozen=True, slots=True)
class FileStarted(Event):
    job_id: str
    file_id: int
    input: str
    worker: int


@dataclass(frozen=True, slots=True)
class FileProgress(Event):
    job_id: str
    file_id: int
    worker: int
    fraction: float | None
    message: str


@dataclass(frozen=True, slots=True)
class FileFinished(Event):
    job_id: str
    file_id: int
    input: str
    output: str | None
    skipped: bool
    duration_s: float
    value: Any = None  # what the processor returned for the file (batchmill.run() hands it on)


@dataclass(frozen=True, slots=True)
class FileFailed(Event):
    job_id: str
    file_id: int
    input: str
    kind: FailureKind
    error: str
    traceback: str
    attempt: int
    will_retry: bool


@dataclass(frozen=True, slots=True)
class WorkerStatus(Event):
    """What one worker is doing now; sent when it changes, at most a few times a second."""

    worker: int
    pid: int | None
    job_id: str | None
    file_id: int | None
    input: str | None
    started_at: float | None  # time.time() when it began this file
    fraction: float | None
    timeout_s: float | None
    label: str = ""  # where it runs, when not on this machine: e.g. the Dask worker's address


@dataclass(frozen=True, slots=True)
class WorkerExited(Event):
    worker: int
    pid: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class Log(Event):
    level: str  # "info" | "warning" | "error"
    message: str
    job_id: str | None = None


@dataclass(frozen=True, slots=True)
class EngineStopped(Event):
    """The engine thread has ended: after a shutdown (``error`` None), or on a failure of the
    journal or of the engine itself, when every job it held has had its JobFinished first.
    A front end waiting on a job learns from it that no more events are coming."""

    error: str | None = None
