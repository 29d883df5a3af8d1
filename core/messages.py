"""Messages between the engine thread and its worker processes.

Small frozen dataclasses, pickled by ``Connection.send``. Results travel in
batches (one message per batch, or per ~0.1 s for slow batches) because a
message per file would double the IPC cost on tiny files; which file a worker
is on is published through a shared-memory slot instead (see ``core.pool``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class FailureKind(str, enum.Enum):
    """Why one file failed. Each kind has its own wording for a person."""

    PROCESSOR_ERROR = "processor-error"  # the processor raised
    WORKER_DIED = "worker-died"  # the worker process exited or was killed
    TIMEOUT = "timeout"  # the file ran past the per-file timeout
    UNPICKLABLE_RESULT = "unpicklable-result"  # the return value could not be sent back
    INPUT_ERROR = "input-error"  # the input could not be read (vanished, permissions)
    OUTPUT_ERROR = "output-error"  # the output could not be written (disk full, read-only)
    PAYLOAD_ERROR = "payload-error"  # the processor could not be loaded in the worker


@dataclass(frozen=True, slots=True)
class Task:
    file_id: int
    src: str
    dst: str | None  # None: the processor makes no per-file output
    tmp: str | None  # where the processor writes; renamed to dst when it returns

    def __reduce__(self) -> tuple[type, tuple[object, ...]]:
        # One of these crosses the pipe per file: skip dataclasses' generic (slow) pickling.
        return (Task, (self.file_id, self.src, self.dst, self.tmp))


@dataclass(frozen=True, slots=True)
class RunBatch:
    batch_id: int
    job_id: str
    payload_key: str
    payload: bytes | None  # None when the worker already holds payload_key
    tasks: tuple[Task, ...]
    scratch_root: str


@dataclass(frozen=True, slots=True)
class Stop:
    """Finish nothing more; exit cleanly."""


@dataclass(frozen=True, slots=True)
class Failure:
    kind: FailureKind
    message: str
    traceback: str = ""


@dataclass(frozen=True, slots=True)
class Outcome:
    file_id: int
    duration_s: float
    result: object = None  # JSON-able value returned by the processor
    output_made: bool = False
    failure: Failure | None = None
    size: int | None = None  # of the input, measured by the worker (not by the scan: that is serial)

    def __reduce__(self) -> tuple[type, tuple[object, ...]]:
        return (Outcome, (self.file_id, self.duration_s, self.result, self.output_made, self.failure, self.size))


@dataclass(frozen=True, slots=True)
class Results:
    batch_id: int
    outcomes: tuple[Outcome, ...]
    batch_done: bool


@dataclass(frozen=True, slots=True)
class Started:
    """Sent for a file that starts after a quiet spell, so slow files show up at once."""

    batch_id: int
    file_id: int


@dataclass(frozen=True, slots=True)
class Progress:
    batch_id: int
    file_id: int
    fraction: float | None
    message: str


@dataclass(frozen=True, slots=True)
class PayloadBroken:
    """The processor could not be loaded at all; every file of the batch is untouched."""

    batch_id: int
    failure: Failure
