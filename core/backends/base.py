"""The contract between the engine thread and a backend.

The engine hands a backend whole batches (``RunBatch``) and reads back, from
``collect()``, pairs of (worker id, message): the workers' own ``Results``,
``Started``, ``Progress`` and ``PayloadBroken``, plus what only the backend can
know — ``Lost`` (a batch will never report again: its worker died, timed out or
was stopped), ``WorkerGone`` and ``WorkerNow``. Only the engine thread calls a
backend, so a backend needs no locks of its own.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from batchmill.core.messages import Failure, RunBatch


@dataclass(frozen=True, slots=True)
class BackendSettings:
    workers: int
    timeout_s: float | None = None
    max_files_per_worker: int | None = None


@dataclass(frozen=True, slots=True)
class Lost:
    """A batch that will never report again. Its unreported files go out again, except
    ``current`` (the file being processed), which fails with ``failure`` when one is given."""

    batch_id: int
    current: int | None
    failure: Failure | None
    unexplained: bool = False  # the worker died with no file to blame


@dataclass(frozen=True, slots=True)
class WorkerGone:
    worker: int
    pid: int | None
    reason: str
    expected: bool  # retired on purpose (recycled, pool shrunk): nothing to report


@dataclass(frozen=True, slots=True)
class WorkerNow:
    worker: int
    pid: int | None
    file_id: int | None
    started_at: float | None
    label: str = ""  # e.g. the Dask worker's address


class Backend(ABC):
    name = "backend"
    # How long a batch should last: a remote backend pays more per batch, so wants longer ones.
    batch_target_s = 0.05

    @abstractmethod
    def configure(self, settings: BackendSettings) -> None:
        """Apply a job's settings; start workers as needed. May raise JobError."""

    @abstractmethod
    def waitables(self) -> list[Any]:
        """Objects for ``multiprocessing.connection.wait`` that become ready when there is news."""

    @abstractmethod
    def collect(self, ready: list[Any]) -> list[tuple[int, object]]:
        """Read the news (also checks timeouts and dead workers); ``ready`` is what wait() returned."""

    @abstractmethod
    def capacity(self) -> int:
        """How many more batches may be sent now."""

    @abstractmethod
    def max_batch(self) -> int | None:
        """Largest batch the next send accepts (worker recycling), or None."""

    @abstractmethod
    def send(self, batch: RunBatch) -> None:
        """Start a batch; the payload may be dropped where the worker already holds it."""

    @abstractmethod
    def abort(self, reason: str = "stopped") -> list[tuple[int, object]]:
        """Stop every batch now (killing what runs); a ``Lost`` for each."""

    @abstractmethod
    def next_deadline(self) -> float | None:
        """Seconds until the nearest per-file timeout expires, for the engine's wait()."""

    @abstractmethod
    def status(self) -> list[WorkerNow]:
        """What each worker is doing now."""

    @abstractmethod
    def shutdown(self) -> None:
        """Stop every worker; leave no process behind."""

    def reclaim(self) -> None:
        """Nothing is left to hand out: take back files queued behind a long one on a busy
        worker, for an idle one (they come back as ``Returned``). A backend that balances
        its own queue (Dask) does nothing."""

    def retire_workers(self) -> None:
        """Let every worker exit once it has finished what it holds, without waiting for it and
        without replacing it (nothing more is coming); the next ``configure()`` starts new ones."""

    def describe(self) -> str:
        return self.name

    def check_job(self, inputs: list[str], output: str) -> None:
        """Before a job starts: raise JobError if the workers cannot reach its files."""
