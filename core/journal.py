"""The journal: SQLite (WAL) record of every job and every file's state.

Several Batchmill processes (a window and a CLI) may share one journal: each
write is a short ``BEGIN IMMEDIATE`` transaction (so a reader never has to
upgrade to a writer and hit SQLITE_BUSY), with a generous busy timeout.
Job specs are stored as JSON; the only binary stored is the processor payload
(the dill bytes of user code), so ``retry`` runs exactly the code that ran.

Files are journaled as a log, not updated in place: each write of the engine
(the files a scan step planned, the files finished since the last write, the
files a retry resets) is one row of ``file_records`` holding a JSON list of
per-file records, and a file's state is its latest record. One SQLite row per
file and state change cost the engine ~8 µs per file, more than hashing a
4 KiB file; a JSON list costs well under one. The ``files`` view lays the log
out as one row per file, for anyone who looks at the journal with SQL.
"""

from __future__ import annotations

import functools
import json
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from batchmill.core import __version__
from batchmill.core.events import FileStatus, JobState
from batchmill.core.lifecycle import FINAL_STATES, Verb
from batchmill.core.liveness import pid_alive, start_time
from batchmill.core.paths import places
from batchmill.core.journal_trouble import SQLITE_ERRORS, damaged, explain, folder_error, switch_to_wal
from batchmill.core.spec import JobSpec

BUSY_TIMEOUT_S = 60.0
_FINAL_VALUES = ",".join(sorted(f"'{state.value}'" for state in FINAL_STATES))  # the life-cycle table's
# The per-file records of file_records.data, by kind (durations in whole microseconds:
# a float costs JSON ten times what an int does):
PLANNED = "planned"  # [idx, root, input, output, state (pending|skipped), size]
DONE = "done"  # [idx, attempts, duration_us, size, result]
FAILED = "failed"  # [idx, attempts, kind, error, traceback, duration_us, size]
RESET = "reset"  # [idx]: pending again, no attempts (retry)
PENDING, SKIPPED = FileStatus.PENDING.value, FileStatus.SKIPPED.value
SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    processor TEXT NOT NULL,
    identity TEXT NOT NULL,
    payload_hash TEXT,
    created_by TEXT,  -- the Batchmill version that made the job, NULL for one made before 0.2
    spec TEXT NOT NULL,
    roots TEXT NOT NULL DEFAULT '[]',
    planned INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL,
    error TEXT,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    elapsed REAL NOT NULL DEFAULT 0,
    owner_pid INTEGER,
    owner_host TEXT,
    owner_started REAL,  -- the owner's start time: a later process given the same pid is not the owner
    heartbeat REAL,
    total INTEGER NOT NULL DEFAULT 0,
    done INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS payloads (hash TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS file_records (
    id INTEGER PRIMARY KEY,  -- the order records were written in: a later one wins
    job_id TEXT NOT NULL,
    kind TEXT NOT NULL,  -- planned | done | failed | reset (see PLANNED, DONE, FAILED, RESET)
    data TEXT NOT NULL  -- a JSON list of per-file records
);
CREATE INDEX IF NOT EXISTS file_records_by_job ON file_records (job_id, id);
"""

# Columns of jobs added since the first journals, with their declarations: an older journal gains
# them when opened (and a journal that has them all needs no write to be opened).
ADDED_COLUMNS = {"roots": "TEXT NOT NULL DEFAULT '[]'", "planned": "INTEGER NOT NULL DEFAULT 1",
                 "created_by": "TEXT", "owner_started": "REAL",
                 "scan_skips": "TEXT"}  # JSON [count, [[path, why], ...]]: entries the scan left out (see set_scan_skips)



# One row per file, laid out from the log: for people who query the journal with SQL.
FILES_VIEW = """
CREATE VIEW IF NOT EXISTS files AS
WITH record AS (
    SELECT r.job_id, r.id AS seq, r.kind, e.value AS v, json_extract(e.value, '$[0]') AS idx
    FROM file_records AS r, json_each(r.data) AS e
), latest AS (
    SELECT *, row_number() OVER (PARTITION BY job_id, idx ORDER BY seq DESC) AS n FROM record
    WHERE kind != 'planned'
)
SELECT p.job_id, p.idx, json_extract(p.v, '$[1]') AS root, json_extract(p.v, '$[2]') AS input,
       json_extract(p.v, '$[3]') AS output,
       CASE l.kind WHEN 'done' THEN 'done' WHEN 'failed' THEN 'failed' WHEN 'reset' THEN 'pending'
            ELSE json_extract(p.v, '$[4]') END AS state,
       CASE WHEN l.kind IN ('done', 'failed') THEN json_extract(l.v, '$[1]') ELSE 0 END AS attempts,
       CASE l.kind WHEN 'failed' THEN json_extract(l.v, '$[2]') END AS kind,
       CASE l.kind WHEN 'failed' THEN json_extract(l.v, '$[3]') END AS error,
       CASE l.kind WHEN 'failed' THEN json_extract(l.v, '$[4]') END AS traceback,
       CASE l.kind WHEN 'done' THEN json_extract(l.v, '$[2]') / 1e6
                   WHEN 'failed' THEN json_extract(l.v, '$[5]') / 1e6 END AS duration,
       COALESCE(CASE l.kind WHEN 'done' THEN json_extract(l.v, '$[3]') WHEN 'failed' THEN json_extract(l.v, '$[6]') END,
                json_extract(p.v, '$[5]')) AS size,
       CASE l.kind WHEN 'done' THEN json_extract(l.v, '$[4]') END AS result
FROM record AS p LEFT JOIN latest AS l ON l.job_id = p.job_id AND l.idx = p.idx AND l.n = 1
WHERE p.kind = 'planned'
"""


def default_home() -> Path:
    """The journal's folder: BATCHMILL_HOME, else the platform's state folder (batchmill.core.paths)."""
    return places().journal.parent


@dataclass(frozen=True)
class JobRecord:
    id: str
    name: str
    processor: str
    identity: str
    payload_hash: str | None
    spec: JobSpec
    state: JobState
    error: str | None
    created: float
    started: float | None
    finished: float | None
    elapsed: float
    owner_pid: int | None
    owner_host: str | None
    heartbeat: float | None
    total: int
    done: int
    failed: int
    skipped: int
    root_is_dir: tuple[bool, ...] = ()
    planned: bool = False  # every input file is in the journal (the scan finished)
    # The Batchmill version that made the job; None for a job made before 0.2, whose payload
    # refers to the packages as they were named then (``core.…``: see batchmill.core.payload).
    created_by: str | None = None
    owner_started: float | None = None  # None in a journal written before 0.3: the pid alone decides
    scan_skipped: int = 0  # entries the scan left out (a broken link, a special file), and (path, why) of
    scan_skips: tuple[tuple[str, str], ...] = ()  # the first SCAN_SKIPS_KEPT of them (batchmill.core.jobrun)

    @property
    def owner_alive(self) -> bool:
        """True when the process that runs this job is still alive (on this host)."""
        return owner_is_alive(self.owner_pid, self.owner_host, self.owner_started, self.heartbeat)

    @property
    def interrupted(self) -> bool:
        """Recorded as active, but nobody is running it any more."""
        return self.state.is_active and not self.owner_alive

    @property
    def shown_state(self) -> JobState:
        return JobState.INTERRUPTED if self.interrupted else self.state


@dataclass(frozen=True)
class FileRecord:
    idx: int
    root: int
    input: str
    output: str | None
    state: FileStatus
    attempts: int
    kind: str | None
    error: str | None
    traceback: str | None
    duration: float | None
    size: int | None
    result: Any


class ClaimedElsewhere(Exception):
    """Another live process runs this job, or has claimed it to run it."""

    def __init__(self, job_id: str, pid: int) -> None:
        super().__init__(f"job {job_id} is being run by process {pid}")
        self.job_id, self.pid = job_id, pid


def owner_is_alive(pid: int | None, host: str | None, started: float | None, heartbeat: float | None) -> bool:
    """Whether the process recorded as a job's owner is alive (on another host: it beat lately)."""
    if pid is None:
        return False
    if host != socket.gethostname():
        return heartbeat is not None and time.time() - heartbeat < 30
    return pid_alive(pid, started)


@functools.cache
def _owner_started() -> float | None:
    """This process's start time, as the journal records it beside its pid (read once)."""
    return start_time()


class Journal:
    """One connection, usable from any thread of this process (calls are serialized)."""

    def __init__(self, home: Path | None = None) -> None:
        """Raises JournalError (naming the file and what to do) if the journal cannot be used."""
        self.home = home or default_home()
        self.path = self.home / "journal.sqlite3"
        self._lock = threading.RLock()
        try:
            self.home.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise folder_error(self.home, self.path, exc) from None
        with self._trouble():
            self._conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                         check_same_thread=False)
        try:
            self._open()
        except BaseException:
            self._conn.close()
            raise

    def _open(self) -> None:
        with self._trouble():
            switch_to_wal(self._conn, BUSY_TIMEOUT_S)
            self._conn.execute("PRAGMA synchronous=NORMAL")
        if self._schema_is_current():
            return  # nothing to write: a read-only journal can still be listed
        for statement in filter(None, (s.strip() for s in SCHEMA.split(";"))):
            with self._write() as db:
                db.execute(statement)
        self._add_missing_columns()
        self._move_files_table_to_log()
        with self._write() as db:
            db.execute(FILES_VIEW)

    def _schema_is_current(self) -> bool:
        names = {(row[0], row[1]) for row in self._read("SELECT type, name FROM sqlite_master")}
        wanted = {("table", "jobs"), ("table", "payloads"), ("table", "file_records"),
                  ("index", "file_records_by_job"), ("view", "files")}
        if not wanted <= names:
            return False
        columns = {row[1] for row in self._read("PRAGMA table_info(jobs)")}
        return set(ADDED_COLUMNS) <= columns

    @contextmanager
    def _trouble(self) -> Iterator[None]:
        """SQLite errors leave as a JournalError that names this journal and what to do."""
        try:
            yield
        except SQLITE_ERRORS as exc:
            raise explain(exc, self.path, BUSY_TIMEOUT_S) from None

    def _add_missing_columns(self) -> None:
        """A journal written by an older Batchmill gains the columns added since (with defaults)."""
        with self._write() as db:
            have = {row[1] for row in db.execute("PRAGMA table_info(jobs)")}
            for column, decl in ADDED_COLUMNS.items():
                if column not in have:
                    db.execute(f"ALTER TABLE jobs ADD COLUMN {column} {decl}")

    def _move_files_table_to_log(self) -> None:
        """A journal written by an older Batchmill has a ``files`` table, a row per file: its
        rows become records of the log (as if each job had planned and finished them), once."""
        with self._write() as db:
            kind = db.execute("SELECT type FROM sqlite_master WHERE name = 'files'").fetchone()
            if kind is None or kind[0] != "table":
                return
            rows = db.execute("SELECT job_id, idx, root, input, output, state, attempts, kind, error, traceback, "
                              "duration, size, result FROM files ORDER BY job_id, idx").fetchall()
            by_job: dict[str, list[tuple[Any, ...]]] = {}
            for row in rows:
                by_job.setdefault(row[0], []).append(row[1:])
            for job_id, files in by_job.items():
                planned, done, failed = [], [], []
                for idx, root, src, dst, state, attempts, kind_, error, tb, duration, size, result in files:
                    planned.append([idx, root, src, dst, state if state == SKIPPED else PENDING,
                                    size])
                    if state == FileStatus.DONE.value:
                        done.append([idx, attempts, to_us(duration), size, _load_result(result)])
                    elif state == FileStatus.FAILED.value:
                        failed.append([idx, attempts, kind_, error, tb, to_us(duration), size])
                for kind_, records in ((PLANNED, planned), (DONE, done), (FAILED, failed)):
                    if records:
                        self._append(db, job_id, kind_, records)
            db.execute("DROP TABLE files")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def patience(self, seconds: float) -> Iterator[None]:
        """Within: wait at most ``seconds`` (not the busy timeout) for a lock another program holds;
        the connection is this thread's throughout. A JournalError that is ``locked`` says it was."""
        with self._lock:
            self._conn.execute(f"PRAGMA busy_timeout = {round(seconds * 1000)}")
            try:
                yield
            finally:
                try:
                    self._conn.execute(f"PRAGMA busy_timeout = {round(BUSY_TIMEOUT_S * 1000)}")
                except sqlite3.Error:
                    pass  # the connection is broken: what is being raised says more

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._transaction("BEGIN IMMEDIATE")

    def _read_snapshot(self) -> AbstractContextManager[sqlite3.Connection]:
        """Several reads that see one state of the journal, whatever other processes write meanwhile."""
        return self._transaction("BEGIN")

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[sqlite3.Connection]:
        with self._lock, self._trouble():
            self._conn.execute(begin)
            try:
                yield self._conn
            except BaseException:
                if self._conn.in_transaction:  # SQLite may have rolled back itself (a full disk)
                    try:
                        self._conn.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass  # the error being raised says more than this one
                raise
            self._conn.execute("COMMIT")

    def write_transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """A write transaction for the tables other modules keep here (batchmill.core.provenance)."""
        return self._write()

    def read_snapshot(self) -> AbstractContextManager[sqlite3.Connection]:
        """Reads of those tables that see one state of the journal (``read`` inside it sees it too)."""
        return self._read_snapshot()

    def read(self, sql: str, args: Iterable[Any] = ()) -> list[sqlite3.Row]:
        """A query of those tables."""
        return self._read(sql, args)

    def _read(self, sql: str, args: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock, self._trouble():
            cur = self._conn.execute(sql, tuple(args))
            cur.row_factory = sqlite3.Row  # type: ignore[assignment]
            return cur.fetchall()

    # -- jobs -------------------------------------------------------------
    def create_job(self, job_id: str, spec: JobSpec, identity: str, payload: bytes | None,
                   payload_hash: str | None, root_is_dir: list[bool]) -> None:
        with self._write() as db:
            if payload is not None:
                db.execute("INSERT OR IGNORE INTO payloads (hash, data) VALUES (?, ?)", (payload_hash, payload))
            db.execute(
                "INSERT INTO jobs (id, name, processor, identity, payload_hash, created_by, spec, roots, state, "
                "created, owner_pid, owner_host, owner_started, heartbeat) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (job_id, spec.name, spec.processor, identity, payload_hash, __version__, spec.to_json(),
                 json.dumps(root_is_dir), JobState.QUEUED.value, time.time(),
                 # owned from the start: a job queued in a live window is not another process's to resume
                 os.getpid(), socket.gethostname(), _owner_started(), time.time()))

    def set_job_state(self, job_id: str, state: JobState, *, error: str | None = None,
                      elapsed: float | None = None) -> None:
        now = time.time()
        with self._write() as db:
            db.execute(
                "UPDATE jobs SET state = ?, error = COALESCE(?, error), heartbeat = ?, "
                "started = CASE WHEN ? = 'running' AND started IS NULL THEN ? ELSE started END, "
                f"finished = CASE WHEN ? IN ({_FINAL_VALUES}) THEN ? "
                "ELSE NULL END, "
                "elapsed = COALESCE(?, elapsed), owner_pid = ?, owner_host = ?, owner_started = ? WHERE id = ?",
                (state.value, error, now, state.value, now, state.value, now, elapsed,
                 os.getpid(), socket.gethostname(), _owner_started(), job_id))

    def rename_job(self, job_id: str, name: str) -> None:
        """The operator's name for a job (shown by `jobs` and the window's history)."""
        with self._write() as db:
            db.execute("UPDATE jobs SET name = ? WHERE id = ?", (name, job_id))

    def claim(self, job_id: str) -> None:
        """Record this process as the job's owner before it is run again: also proves, in the
        caller's thread, that the journal can be written.

        The check and the claim are one write transaction, so of two processes resuming a job
        at once one wins: raises ClaimedElsewhere when another live process runs the job or has
        claimed it and not yet started it (a claim leaves a final state as it is, but its
        heartbeat after the job's finish)."""
        with self._write() as db:
            row = db.execute("SELECT owner_pid, owner_host, owner_started, heartbeat, finished, state FROM jobs "
                             "WHERE id = ?", (job_id,)).fetchone()
            if row is not None:
                pid, host, started, heartbeat, finished, state = row
                ours = pid == os.getpid() and host == socket.gethostname() and started == _owner_started()
                if pid is not None and not ours:
                    owner = owner_is_alive(pid, host, started, heartbeat)
                    busy = JobState(state).is_active or (heartbeat is not None and finished is not None
                                                         and heartbeat > finished)
                    if owner and busy:
                        raise ClaimedElsewhere(job_id, pid)
            db.execute("UPDATE jobs SET owner_pid = ?, owner_host = ?, owner_started = ?, heartbeat = ? WHERE id = ?",
                       (os.getpid(), socket.gethostname(), _owner_started(), time.time(), job_id))

    def get_job(self, job_id: str) -> JobRecord | None:
        if not job_id:
            return None
        # A prefix compare, not LIKE: "_" and "%" typed in an id must not match other jobs.
        rows = self._read("SELECT * FROM jobs WHERE substr(id, 1, ?) = ? ORDER BY created", (len(job_id), job_id))
        if len(rows) > 1:
            exact = [r for r in rows if r["id"] == job_id]
            if not exact:
                raise LookupError(f"job id {job_id!r} is ambiguous: it starts {len(rows)} jobs")
            rows = exact
        return self._job_from_row(rows[0]) if rows else None

    def list_jobs(self, limit: int = 50) -> list[JobRecord]:
        rows = self._read("SELECT * FROM jobs ORDER BY created DESC LIMIT ?", (limit,))
        return [self._job_from_row(r) for r in rows]

    def _job_from_row(self, row: sqlite3.Row) -> JobRecord:
        try:
            return _job_from_row(row)
        except (ValueError, KeyError, TypeError) as exc:
            raise damaged(self.path, f"job {row['id']!r} cannot be read back: {exc}") from None

    def latest_resumable(self) -> JobRecord | None:
        """The newest job offered to be resumed (``batchmill resume``'s default); see offered_jobs."""
        offered = self.offered_jobs(limit=1)
        return offered[0] if offered else None

    def offered_jobs(self, limit: int = 20) -> list[JobRecord]:
        """Jobs that stopped without the operator's choice (interrupted, halted) and that no live
        process owns, newest first: each is offered to be resumed (batchmill.core.lifecycle).
        A cancelled job is not: the operator stopped it, and resumes it by its id."""
        return pick_offered(self.list_jobs(limit=OFFER_LOOKS_AT), limit)

    def forget_job(self, job_id: str) -> bool:
        """Delete a job, its file records and a payload no other job uses, if it is still one that
        may be forgotten (a final state, or an active one whose owner has died) when the write
        starts: another process may have resumed it since it was chosen. batchmill.core.housekeeping."""
        with self._write() as db:
            cur = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,))
            cur.row_factory = sqlite3.Row  # type: ignore[assignment]
            row = cur.fetchone()
            if row is None or not _job_from_row(row).shown_state.allows(Verb.FORGET):
                return False
            db.execute("DELETE FROM file_records WHERE job_id = ?", (job_id,))
            db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
            db.execute("DELETE FROM payloads WHERE hash = ? AND hash NOT IN "
                       "(SELECT payload_hash FROM jobs WHERE payload_hash IS NOT NULL)", (row["payload_hash"],))
            return True

    def vacuum(self) -> None:
        """Give the space of deleted rows back to the file system. Safe beside other processes
        using the journal: VACUUM holds the write lock while it runs (their writes wait, within
        the busy timeout), and the WAL checkpoint that shrinks the file skips pages a reader
        still needs, so it never blocks one."""
        with self._lock, self._trouble():
            self._conn.execute("VACUUM")
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def size_on_disk(self) -> int:
        """Bytes the journal takes: its file and its write-ahead log."""
        return sum(p.stat().st_size for p in (self.path, Path(f"{self.path}-wal")) if p.exists())

    def replace_payload(self, job_id: str, payload: bytes, payload_hash: str) -> None:
        """The job runs other code from now on (a retry with the script as it is now)."""
        with self._write() as db:
            db.execute("INSERT OR IGNORE INTO payloads (hash, data) VALUES (?, ?)", (payload_hash, payload))
            db.execute("UPDATE jobs SET payload_hash = ?, created_by = ? WHERE id = ?",
                       (payload_hash, __version__, job_id))

    def payload(self, payload_hash: str) -> bytes | None:
        rows = self._read("SELECT data FROM payloads WHERE hash = ?", (payload_hash,))
        return bytes(rows[0]["data"]) if rows else None

    # -- files ------------------------------------------------------------
    def add_files(self, job_id: str, rows: Iterable[tuple[int, int, str, str | None, str, int | None]]) -> int | None:
        """Files a scan planned. rows: (idx, root, input, output, state, size). Returns the row's id."""
        with self._write() as db:
            return self._append(db, job_id, PLANNED, rows)

    def record_files(self, job_id: str, done: list[tuple[Any, ...]], failed: list[tuple[Any, ...]],
                     counts: tuple[int, int, int, int], elapsed: float) -> int | None:
        """Files finished, and the job's counts, in one transaction; returns the row id of the done
        records (None when there were none), which provenance's output_log may point at.
        done: (idx, attempts, duration_us, size, result);
        failed: (idx, attempts, kind, error, traceback, duration_us, size)."""
        row = None
        with self._write() as db:
            if done:
                row = self._append(db, job_id, DONE, done)
            if failed:
                self._append(db, job_id, FAILED, failed)
            self._store_counts(db, job_id, counts, elapsed)
        return row

    @staticmethod
    def _append(db: sqlite3.Connection, job_id: str, kind: str, records: Iterable[Sequence[Any]]) -> int | None:
        records = list(records)
        try:
            data = json.dumps(records, default=repr)  # a value JSON cannot hold is kept as its repr
        except ValueError:  # a result that contains itself: only that one is kept as its repr
            data = json.dumps([_json_safe(record) for record in records], default=repr)
        return db.execute("INSERT INTO file_records (job_id, kind, data) VALUES (?, ?, ?)", (job_id, kind, data)).lastrowid

    def store_counts(self, job_id: str, counts: tuple[int, int, int, int], elapsed: float) -> None:
        with self._write() as db:
            self._store_counts(db, job_id, counts, elapsed)

    @staticmethod
    def _store_counts(db: sqlite3.Connection, job_id: str, counts: tuple[int, int, int, int], elapsed: float) -> None:
        total, done, failed, skipped = counts
        db.execute("UPDATE jobs SET total = ?, done = ?, failed = ?, skipped = ?, heartbeat = ?, elapsed = ? "
                   "WHERE id = ?", (total, done, failed, skipped, time.time(), elapsed, job_id))

    def reset_files(self, job_id: str, from_states: tuple[FileStatus, ...],
                    only: Collection[int] | None = None) -> int:
        """Mark files in ``from_states`` pending again (retry); returns how many. ``only``: of
        those, just the files with these ids (a retry of the files the operator selected)."""
        wanted = {s.value for s in from_states}
        with self._write() as db:
            chosen = [[record.idx] for record in _Replay(db, job_id, wanted).records()
                      if record.state.value in wanted and (only is None or record.idx in only)]
            if chosen:
                self._append(db, job_id, RESET, chosen)
            return len(chosen)

    def set_scan_skips(self, job_id: str, count: int, skips: Sequence[tuple[str, str]]) -> None:
        """The entries the job's scan left out: how many, and (path, why) of the first ones kept."""
        with self._write() as db:
            db.execute("UPDATE jobs SET scan_skips = ? WHERE id = ?",
                       (json.dumps([count, [list(skip) for skip in skips]]), job_id))

    def mark_planned(self, job_id: str) -> None:
        with self._write() as db:
            db.execute("UPDATE jobs SET planned = 1 WHERE id = ?", (job_id,))

    def delete_files(self, job_id: str) -> None:
        with self._write() as db:
            db.execute("DELETE FROM file_records WHERE job_id = ?", (job_id,))

    def planned_after(self, job_id: str, after_row: int) -> tuple[int, list[list[Any]]] | None:
        """The first row of planned files written after ``after_row``: (its row id, its records
        [idx, root, input, output, state, size]); None when there is none (yet). For an engine
        that reads back, as they are needed, the files a scan found beyond what it keeps in memory."""
        rows = self._read("SELECT id, data FROM file_records WHERE job_id = ? AND kind = ? AND id > ? "
                          "ORDER BY id LIMIT 1", (job_id, PLANNED, after_row))
        return (int(rows[0]["id"]), json.loads(rows[0]["data"])) if rows else None

    def files(self, job_id: str, states: tuple[FileStatus, ...] | None = None) -> list[FileRecord]:
        """Every file of a job (or those in ``states``), in planning order."""
        wanted = {s.value for s in states} if states else None
        with self._read_snapshot() as db:
            replay = _Replay(db, job_id, wanted)
        records = replay.records()
        return [r for r in records if r.state in states] if states else list(records)

    def counts(self, job_id: str) -> dict[FileStatus, int]:
        result = {s: 0 for s in FileStatus}
        with self._read_snapshot() as db:
            replay = _Replay(db, job_id)
        for record in replay.records():
            result[record.state] += 1
        return result


OFFER_LOOKS_AT = 200  # the newest jobs looked at for those to offer


def pick_offered(newest_first: list[JobRecord], limit: int) -> list[JobRecord]:
    """Of these jobs, those to offer to resume: stopped without the operator's choice
    (batchmill.core.lifecycle's offered states) and owned by no live process."""
    return [job for job in newest_first if job.shown_state.is_offered and not job.owner_alive][:limit]


class _Replay:
    """The log of one job read back: each file's planned record and its latest record since."""

    def __init__(self, db: sqlite3.Connection, job_id: str, states: set[str] | None = None) -> None:
        """``states``: only files in these states are wanted. When those are finished states and
        no file is in one (a job with no failures, asked for its failures), the planned records,
        the bulk of the log, are not read at all. Called inside a transaction (one snapshot)."""
        self.planned: dict[int, list[Any]] = {}  # idx -> planned record, in planning order
        self.latest: dict[int, tuple[str, list[Any]]] = {}  # idx -> (kind, record) of its latest record
        latest = self.latest
        for kind, data in db.execute("SELECT kind, data FROM file_records WHERE job_id = ? AND kind != ? "
                                     "ORDER BY id", (job_id, PLANNED)):
            kind = _KINDS[kind]  # interned, so a reader can compare with ``is``
            for record in json.loads(data):
                latest[record[0]] = (kind, record)
        if states is not None and not states & {PENDING, SKIPPED} and not any(
                kind in states for kind, _record in latest.values()):
            return
        planned = self.planned
        for (data,) in db.execute("SELECT data FROM file_records WHERE job_id = ? AND kind = ? ORDER BY id",
                                  (job_id, PLANNED)):
            for record in json.loads(data):
                planned[record[0]] = record
        if any(a > b for a, b in zip(planned, list(planned)[1:])):  # planning order is idx order
            self.planned = dict(sorted(planned.items()))

    def records(self) -> Iterator[FileRecord]:
        latest = self.latest
        for idx, (_idx, root, src, dst, state, size) in self.planned.items():
            kind, last = latest.get(idx, (None, None))
            if kind is DONE:
                _, attempts, duration, done_size, result = last
                yield FileRecord(idx, root, src, dst, FileStatus.DONE, attempts, None, None, None,
                                 _seconds(duration), size if done_size is None else done_size, result)
            elif kind is FAILED:
                _, attempts, why, error, tb, duration, failed_size = last
                yield FileRecord(idx, root, src, dst, FileStatus.FAILED, attempts, why, error, tb,
                                 _seconds(duration), size if failed_size is None else failed_size, None)
            else:  # planned, or reset since (retry)
                yield FileRecord(idx, root, src, dst, FileStatus.PENDING if kind is RESET else FileStatus(state),
                                 0, None, None, None, None, size, None)


_KINDS = {DONE: DONE, FAILED: FAILED, RESET: RESET}


def to_us(seconds: float | None) -> int | None:
    """A duration as the journal keeps it: whole microseconds."""
    return None if seconds is None else round(seconds * 1_000_000)


def _seconds(us: int | None) -> float | None:
    return None if us is None else us / 1e6


def _json_safe(record: Sequence[Any]) -> list[Any]:
    """A finished record whose result JSON cannot encode even with repr() (it contains itself)
    keeps the result as its repr."""
    try:
        json.dumps(record, default=repr)
        return list(record)
    except ValueError:
        pass
    try:
        return [*record[:-1], repr(record[-1])]
    except ValueError as exc:  # an int past the digit limit: its repr raises too; never end the job for it
        return [*record[:-1], f"<a result that cannot be written as text: {exc}>"]


def _load_result(text: str | None) -> Any:
    """A result as the ``files`` table of an older journal held it (JSON text)."""
    return None if text is None else json.loads(text)


def _job_from_row(r: sqlite3.Row) -> JobRecord:
    return JobRecord(
        id=r["id"], name=r["name"], processor=r["processor"], identity=r["identity"],
        payload_hash=r["payload_hash"], spec=JobSpec.from_json(r["spec"]), state=JobState(r["state"]),
        error=r["error"], created=r["created"], started=r["started"], finished=r["finished"],
        elapsed=r["elapsed"], owner_pid=r["owner_pid"], owner_host=r["owner_host"], heartbeat=r["heartbeat"],
        total=r["total"], done=r["done"], failed=r["failed"], skipped=r["skipped"],
        root_is_dir=tuple(json.loads(r["roots"])), planned=bool(r["planned"]), created_by=r["created_by"],
        owner_started=r["owner_started"], **_scan_skips(r["scan_skips"]))


def _scan_skips(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    count, skips = json.loads(text)
    return {"scan_skipped": count, "scan_skips": tuple((path, why) for path, why in skips)}
