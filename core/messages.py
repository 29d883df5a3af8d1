"""Messages between the engine thread and its worker processes.

Small frozen dataclasses, pickled by ``Connection.send``. Results travel in
batches (one message per batch, or per ~0.1 s for slow batches) because a
message per file would double the IPC cost on tiny files; which file a worker
is on is published through a shared-memory slot instead (see ``batchmill.core.pool``).

A batch and its results are column by column (a tuple of ids, a tuple of
paths, a tuple of durations ...), not a tuple of per-file objects: on tiny
files, building, pickling and unpickling an object per file cost more than
hashing the file.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from batchmill.core.sidecar import SidecarJob


class FailureKind(str, enum.Enum):
    """Why one file failed. Each kind has its own wording for a person."""

    PROCESSOR_ERROR = "processor-error"  # the processor raised
    WORKER_DIED = "worker-died"  # the worker process exited or was killed
    TIMEOUT = "timeout"  # the file ran past the per-file timeout
    UNPICKLABLE_RESULT = "unpicklable-result"  # the return value could not be sent back
    UNRECORDABLE_RESULT = "unrecordable-result"  # the return value has no journal form, or is over the cap
    INPUT_ERROR = "input-error"  # the input could not be read (vanished, permissions)
    OUTPUT_ERROR = "output-error"  # the output could not be written (disk full, read-only)
    PAYLOAD_ERROR = "payload-error"  # the processor could not be loaded in the worker


@dataclass(frozen=True, slots=True)
class Task:
    """One file of a batch, for the code that handles one file at a time (failures, aborts)."""

    file_id: int
    src: str
    dst: str | None  # None: the processor makes no per-file output
    tmp: str | None  # where the processor writes; renamed to dst when it returns


@dataclass(frozen=True, slots=True)
class RunBatch:
    batch_id: int
    job_id: str
    payload_key: str
    payload: bytes | None  # None when the worker already holds payload_key
    file_ids: tuple[int, ...]
    srcs: tuple[str, ...]
    dsts: tuple[str | None, ...] | None  # None: no file of this batch makes an output of its own
    tmps: tuple[str | None, ...] | None  # where each processor call writes; renamed to its dst
    scratch_root: str
    sidecar: SidecarJob | None = None  # --provenance sidecar: what each output's sidecar says alike
    # sidecars off and outputs may be made over old ones (replace, changed): a sidecar of Batchmill's
    # beside an output made is removed, as it tells of the file that was there
    drop_sidecars: bool = False

    def __len__(self) -> int:
        return len(self.file_ids)

    def task(self, i: int) -> Task:
        dsts, tmps = self.dsts, self.tmps
        return Task(self.file_ids[i], self.srcs[i], dsts[i] if dsts else None, tmps[i] if tmps else None)

    def tasks(self) -> Iterator[Task]:
        return (self.task(i) for i in range(len(self.file_ids)))

    def part(self, start: int, stop: int) -> RunBatch:
        """The files ``start:stop`` of this batch, as a batch of their own (same id and payload)."""
        dsts, tmps = self.dsts, self.tmps
        return RunBatch(self.batch_id, self.job_id, self.payload_key, self.payload, self.file_ids[start:stop],
                        self.srcs[start:stop], dsts[start:stop] if dsts else None,
                        tmps[start:stop] if tmps else None, self.scratch_root, self.sidecar,
                        self.drop_sidecars)


@dataclass(frozen=True, slots=True)
class Stop:
    """Finish nothing more; exit cleanly."""


@dataclass(frozen=True, slots=True)
class Failure:
    kind: FailureKind
    message: str
    traceback: str = ""


@dataclass(frozen=True, slots=True)
class Results:
    """What became of some files of a batch, one column per field (file ``i`` is index ``i`` of each)."""

    batch_id: int
    file_ids: tuple[int, ...]
    durations: tuple[float, ...]
    values: tuple[object, ...]  # JSON-able values returned by the processor (None for a failed file)
    sizes: tuple[int | None, ...]  # of each input, measured by the worker (the scan is serial)
    made: tuple[bool, ...]  # whether the file's output was made
    failures: tuple[tuple[int, Failure], ...]  # (file id, why) for the files above that failed
    batch_done: bool

    @staticmethod
    def join(batch_id: int, parts: Iterable[Results], batch_done: bool) -> Results:
        """Several partial Results of one batch as one."""
        parts = list(parts)
        return Results(batch_id, *(tuple(x for part in parts for x in getattr(part, column))
                                   for column in ("file_ids", "durations", "values", "sizes", "made", "failures")),
                       batch_done)


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


@dataclass(frozen=True, slots=True)
class Withdraw:
    """Engine to worker: hand back the files of this batch you have not started.

    Sent when another worker sits idle with nothing left to hand out, so files queued behind
    a long one move to it instead of waiting. A batch that has finished ignores it."""

    batch_id: int


@dataclass(frozen=True, slots=True)
class Returned:
    """Worker to engine: these files of the batch were not started and are given back (after a
    ``Withdraw``); the batch is over, the files go out again."""

    batch_id: int
    file_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Printed:
    """What a processor (or a program it started) wrote to stdout or stderr while on a file:
    the tail of it, capped. Workers' output never reaches the terminal's stdout (``--json``)."""

    batch_id: int
    file_id: int
    text: str
