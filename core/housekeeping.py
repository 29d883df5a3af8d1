"""Journal housekeeping: forget jobs, prune old ones, give the space back.

The journal keeps every job and every file's records until told otherwise (~155 bytes a
file: 16 MB after 100,000 files). ``batchmill jobs forget JOB…`` and ``batchmill jobs prune
--older-than 30d [--keep-failed]`` (and the window's Remove, when asked to forget) delete jobs
whose state allows it (the life-cycle table's FORGET verb: a finished job, or an active one
whose owner has died), then VACUUM the file so it shrinks on disk. A job another process runs
is refused, naming it; outputs on disk are never touched.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from batchmill.core.journal import Journal, JobRecord
from batchmill.core.lifecycle import Verb

_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400, "": 86_400}
ALL_JOBS = 1 << 62


class HousekeepingError(ValueError):
    """A request that cannot be carried out (an unknown or ambiguous job id, a bad age)."""


@dataclass
class Forgotten:
    """What a forget or prune did."""

    jobs: list[str] = field(default_factory=list)  # ids forgotten
    refused: list[tuple[str, str]] = field(default_factory=list)  # (id, why)
    bytes_before: int = 0
    bytes_after: int = 0

    def as_json(self) -> dict[str, object]:
        return {"forgotten": self.jobs, "refused": [{"job_id": j, "reason": r} for j, r in self.refused],
                "bytes_before": self.bytes_before, "bytes_after": self.bytes_after}

    def text(self) -> str:
        lines = [f"refused {job_id}: {reason}" for job_id, reason in self.refused]
        lines.append(f"forgot {len(self.jobs)} job{'s' if len(self.jobs) != 1 else ''}; journal "
                     f"{_mb(self.bytes_before)} -> {_mb(self.bytes_after)}")
        return "\n".join(lines)


def parse_age(text: str) -> float:
    """``30d``, ``12h``, ``90m``, ``45s``, ``2w`` (a bare number is days) -> seconds."""
    found = _AGE.match(text)
    if found is None:
        raise HousekeepingError(f"--older-than takes an age such as 30d, 12h, 90m or 2w, not {text!r}")
    return float(found.group(1)) * _UNIT_S[found.group(2)]


def why_not(job: JobRecord) -> str | None:
    """Why a job may not be forgotten now, or None when it may."""
    if job.shown_state.allows(Verb.FORGET):
        return None
    where = f"process {job.owner_pid}" + (f" on {job.owner_host}" if job.owner_host else "")
    return f"it is {job.shown_state.value} ({where}): cancel it first"


def resolve(journal: Journal, job_ids: Iterable[str]) -> list[JobRecord]:
    """The jobs named by ids or unique id prefixes; HousekeepingError for one that names none or several."""
    jobs = []
    for job_id in job_ids:
        try:
            job = journal.get_job(job_id)
        except LookupError as exc:
            raise HousekeepingError(str(exc)) from None
        if job is None:
            raise HousekeepingError(f"no job {job_id!r} in the journal {journal.path}")
        jobs.append(job)
    return jobs


def to_prune(journal: Journal, older_than_s: float, keep_failed: bool, now: float | None = None) -> list[JobRecord]:
    """Jobs that ended (or were created, if they never did) longer ago than ``older_than_s``."""
    cutoff = (time.time() if now is None else now) - older_than_s
    return [job for job in journal.list_jobs(ALL_JOBS)
            if (job.finished or job.created) < cutoff and not (keep_failed and job.failed)
            and why_not(job) is None]


def forget(journal: Journal, jobs: Iterable[JobRecord], vacuum: bool = True) -> Forgotten:
    """Forget ``jobs`` (each re-checked inside its delete), then VACUUM."""
    from batchmill.core.provenance import ProvenanceStore  # here: only forgetting needs it

    report = Forgotten(bytes_before=journal.size_on_disk())
    jobs = list(jobs)
    if jobs:
        # A job's provenance may still be references to its file records (provenance's output_log):
        # read into outputs before those go, so what its outputs were made from stays known.
        ProvenanceStore(journal).fold()
    for job in jobs:
        reason = why_not(job)
        if reason is None and journal.forget_job(job.id):
            report.jobs.append(job.id)
        else:
            report.refused.append((job.id, reason or "another process took it up meanwhile"))
    if vacuum and report.jobs:
        journal.vacuum()
    report.bytes_after = journal.size_on_disk()
    return report


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.0f} kB"
