"""How long a job will take, before it starts: from the journal's history of the same
processor (the time each file took in a worker, and its size), fitted as a fixed cost per file
plus a cost per byte, then spread over the job's workers.

The history prefers jobs of the very same processor set-up (identity: a ``python`` job of the
same script), then any job of the processor. Without any, a preview asked to (``--estimate
sample``, the window's "Time a sample") times a few of the job's files instead
(``batchmill.core.sample``); a plain preview runs nothing, so it has no estimate then.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from batchmill.core.journal import Journal

HISTORY_JOBS = 10  # the newest jobs looked at
HISTORY_FILES = 20_000  # files read from them at most
STARTUP_S = 0.3  # a job's own start: workers' interpreters, imports (measured: ~0.3 s one-file job)


@dataclass(frozen=True)
class CostModel:
    """Seconds a file takes in a worker: ``per_file_s + per_byte_s * size``."""

    per_file_s: float
    per_byte_s: float
    files: int  # files of the history
    jobs: int
    source: str  # what the history is of (an identity or a processor name)
    sampled: bool = False  # from a timed sample of this job's files, not the journal's history

    def seconds(self, files: int, size: int, workers: int) -> float:
        cpu = self.per_file_s * files + self.per_byte_s * size
        return STARTUP_S + cpu / max(1, min(workers, files or 1))


@dataclass(frozen=True)
class Estimate:
    seconds: float
    files: int
    workers: int
    model: CostModel

    def line(self) -> str:
        basis = f"{self.model.per_file_s * 1000:.2f} ms a file"
        if self.model.per_byte_s > 0:
            basis += f" + {self.model.per_byte_s * (1 << 20) * 1000:.1f} ms a MiB"
        head = f"estimate: about {_duration(self.seconds)} for {_count(self.files, 'file')} on {_count(self.workers, 'worker')}"
        if self.model.sampled:
            return f"{head} (sample-based: {_count(self.model.files, 'file')} of this job timed, no history in the journal: {basis})"
        return (f"{head} (from {_count(self.model.jobs, 'earlier job')} of {self.model.source}, "
                f"{_count(self.model.files, 'file')}: {basis})")

    def as_json(self) -> dict[str, object]:
        return {"seconds": round(self.seconds, 3), "files": self.files, "workers": self.workers,
                "per_file_s": self.model.per_file_s, "per_byte_s": self.model.per_byte_s,
                "history_files": 0 if self.model.sampled else self.model.files, "history_jobs": self.model.jobs,
                "source": self.model.source, "basis": "sample" if self.model.sampled else "history",
                "sample_files": self.model.files if self.model.sampled else 0}


def cost_model(journal: Journal, processor: str, identity: str) -> CostModel | None:
    """The cost of a file, fitted from the newest jobs of ``identity`` (else of ``processor``)."""
    for column, value in (("identity", identity), ("processor", processor)):
        jobs = [row[0] for row in journal.read(
            f"SELECT id FROM jobs WHERE {column} = ? AND done > 0 ORDER BY created DESC LIMIT ?",
            (value, HISTORY_JOBS))]
        samples = _samples(journal, jobs)
        if samples:
            return fit_samples(samples, len(jobs), value)
    return None


def _samples(journal: Journal, jobs: list[str]) -> list[tuple[float, int]]:
    """(seconds, size) of files done by ``jobs``, newest first, at most HISTORY_FILES."""
    found: list[tuple[float, int]] = []
    for job_id in jobs:
        for (data,) in journal.read("SELECT data FROM file_records WHERE job_id = ? AND kind = 'done' "
                                    "ORDER BY id DESC", (job_id,)):
            for record in json.loads(data):
                duration_us, size = record[2], record[3]
                if duration_us is not None:
                    found.append((duration_us / 1e6, size if isinstance(size, int) and size >= 0 else 0))
            if len(found) >= HISTORY_FILES:
                return found[:HISTORY_FILES]
    return found


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def fit_samples(samples: list[tuple[float, int]], jobs: int, source: str, sampled: bool = False) -> CostModel:
    """Least squares of seconds on size; a negative part (noise) falls back to the mean per file."""
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_s = sum(s for _, s in samples) / n
    var_s = sum((s - mean_s) ** 2 for _, s in samples)
    if var_s == 0:
        return CostModel(mean_t, 0.0, n, jobs, source, sampled)
    slope = sum((s - mean_s) * (t - mean_t) for t, s in samples) / var_s
    intercept = mean_t - slope * mean_s
    if slope <= 0 or intercept < 0:
        return CostModel(mean_t, 0.0, n, jobs, source, sampled)
    return CostModel(intercept, slope, n, jobs, source, sampled)




def estimate(model: CostModel | None, files: int, size: int, workers: int) -> Estimate | None:
    if model is None or files == 0:
        return None
    return Estimate(model.seconds(files, size, workers), files, workers, model)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
