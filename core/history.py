"""Reading the journal from outside the engine: a read-only connection of its own.

The window lists past jobs and their failed files from the journal. It must not read through
the engine's connection (one lock serializes it with the engine's writes, so a long read would
hold up the engine, and a read on the window's thread would hold up the window): WAL lets a
second connection read a consistent snapshot while the engine writes, and ``mode=ro`` makes
sure this one never writes. Open one reader per thread that reads.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from batchmill.core.events import FileStatus
from batchmill.core.journal import BUSY_TIMEOUT_S, OFFER_LOOKS_AT, FileRecord, JobRecord, pick_offered
from batchmill.core.journal import _job_from_row, _Replay  # the journal's own row decoding, not a copy

HISTORY_LIMIT = 200


class JournalReader:
    """Read-only access to a journal file (which must exist: an Engine makes it)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S,
                                     isolation_level=None)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> JournalReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def past_jobs(self, limit: int = HISTORY_LIMIT) -> list[JobRecord]:
        """Jobs nobody runs any more (final, or active in a process that has died), oldest first."""
        rows = self._rows("SELECT * FROM jobs ORDER BY created DESC LIMIT ?", (limit,))
        jobs = [_job_from_row(row) for row in rows]
        return [job for job in reversed(jobs) if job.shown_state.is_final]

    def offered_jobs(self, limit: int = 20) -> list[JobRecord]:
        """Jobs to offer to resume at start-up, newest first (as ``Journal.offered_jobs``)."""
        rows = self._rows("SELECT * FROM jobs ORDER BY created DESC LIMIT ?", (OFFER_LOOKS_AT,))
        return pick_offered([_job_from_row(row) for row in rows], limit)

    def job(self, job_id: str) -> JobRecord | None:
        rows = self._rows("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return _job_from_row(rows[0]) if rows else None

    def job_code(self, job_id: str) -> str | None:
        """The code fingerprint journaled with the job (its recipe, batchmill.core.provenance), or
        None: a job that never started running, or a journal from before recipes."""
        try:
            rows = self._rows("SELECT recipes.code FROM job_recipes JOIN recipes ON recipes.hash = job_recipes.recipe "
                              "WHERE job_recipes.job_id = ?", (job_id,))
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return None
            raise
        return str(rows[0][0]) if rows else None

    def _rows(self, sql: str, args: tuple[object, ...]) -> list[sqlite3.Row]:
        cursor = self._conn.execute(sql, args)
        cursor.row_factory = sqlite3.Row
        return cursor.fetchall()

    def files(self, job_id: str, states: tuple[FileStatus, ...] | None = None) -> list[FileRecord]:
        """Every file of a job (or those in ``states``), in planning order; one snapshot."""
        wanted = {s.value for s in states} if states else None
        self._conn.execute("BEGIN")
        try:
            replay = _Replay(self._conn, job_id, wanted)
        finally:
            self._conn.execute("COMMIT")
        records = replay.records()
        return [r for r in records if r.state in states] if states else list(records)


__all__ = ["HISTORY_LIMIT", "JournalReader"]
