"""The journal: SQLite (WAL) record of every job and every file's state.

Several Batchmill processes (a window and a CLI) may share one journal: each
write is a short ``BEGIN IMMEDIATE`` transaction (so a reader never has to
upgrade to a writer and hit SQLITE_BUSY), with a generous busy timeout. The
engine batches its file updates, so journaling tiny files costs no throughput.
Job specs are stored as JSON; the only binary stored is the processor payload
(the dill bytes of user code), so ``retry`` runs exactly the code that ran.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.events import FileStatus, JobState
from core.spec import JobSpec

BUSY_TIMEOUT_S = 60.0
SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    processor TEXT NOT NULL,
    identity TEXT NOT NULL,
    payload_hash TEXT,
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
    heartbeat REAL,
    total INTEGER NOT NULL DEFAULT 0,
    done INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS payloads (hash TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    job_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    root INTEGER NOT NULL,
    input TEXT NOT NULL,
    output TEXT,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    kind TEXT,
    error TEXT,
    traceback TEXT,
    duration REAL,
    size INTEGER,
    result TEXT,
    PRIMARY KEY (job_id, idx)
) WITHOUT ROWID;
"""


def default_home() -> Path:
    env = os.environ.get("BATCHMILL_HOME")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("batchmill", appauthor=False))


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

    @property
    def owner_alive(self) -> bool:
        """True when the process that runs this job is still alive (on this host)."""
        if self.owner_pid is None:
            return False
        if self.owner_host != socket.gethostname():
            return self.heartbeat is not None and time.time() - self.heartbeat < 30
        return pid_alive(self.owner_pid)

    @property
    def interrupted(self) -> bool:
        """Recorded as active, but nobody is running it any more."""
        active = self.state in (JobState.QUEUED, JobState.RUNNING, JobState.PAUSED, JobState.PLANNING)
        return active and not self.owner_alive

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


def pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


class Journal:
    """One connection, usable from any thread of this process (calls are serialized)."""

    def __init__(self, home: Path | None = None) -> None:
        self.home = home or default_home()
        self.home.mkdir(parents=True, exist_ok=True)
        self.path = self.home / "journal.sqlite3"
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                     check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        for statement in filter(None, (s.strip() for s in SCHEMA.split(";"))):
            with self._write() as db:
                db.execute(statement)
        self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        """A journal written by an older Batchmill gains the columns added since (with defaults)."""
        wanted = {"roots": "TEXT NOT NULL DEFAULT '[]'", "planned": "INTEGER NOT NULL DEFAULT 1"}
        with self._write() as db:
            have = {row[1] for row in db.execute("PRAGMA table_info(jobs)")}
            for column, decl in wanted.items():
                if column not in have:
                    db.execute(f"ALTER TABLE jobs ADD COLUMN {column} {decl}")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _read(self, sql: str, args: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
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
                "INSERT INTO jobs (id, name, processor, identity, payload_hash, spec, roots, state, created, "
                "owner_pid, owner_host, heartbeat) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (job_id, spec.name, spec.processor, identity, payload_hash, spec.to_json(),
                 json.dumps(root_is_dir), JobState.QUEUED.value, time.time(),
                 # owned from the start: a job queued in a live window is not another process's to resume
                 os.getpid(), socket.gethostname(), time.time()))

    def set_job_state(self, job_id: str, state: JobState, *, error: str | None = None,
                      elapsed: float | None = None) -> None:
        now = time.time()
        with self._write() as db:
            db.execute(
                "UPDATE jobs SET state = ?, error = COALESCE(?, error), heartbeat = ?, "
                "started = CASE WHEN ? = 'running' AND started IS NULL THEN ? ELSE started END, "
                "finished = CASE WHEN ? IN ('completed','cancelled','halted','interrupted','error') THEN ? "
                "ELSE NULL END, "
                "elapsed = COALESCE(?, elapsed), owner_pid = ?, owner_host = ? WHERE id = ?",
                (state.value, error, now, state.value, now, state.value, now, elapsed,
                 os.getpid(), socket.gethostname(), job_id))

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
        return _job_from_row(rows[0]) if rows else None

    def list_jobs(self, limit: int = 50) -> list[JobRecord]:
        rows = self._read("SELECT * FROM jobs ORDER BY created DESC LIMIT ?", (limit,))
        return [_job_from_row(r) for r in rows]

    def latest_resumable(self) -> JobRecord | None:
        for job in self.list_jobs(limit=200):
            state = job.shown_state
            if state.is_resumable and state is not JobState.RUNNING and not job.owner_alive:
                return job
        return None

    def payload(self, payload_hash: str) -> bytes | None:
        rows = self._read("SELECT data FROM payloads WHERE hash = ?", (payload_hash,))
        return bytes(rows[0]["data"]) if rows else None

    # -- files ------------------------------------------------------------
    def add_files(self, job_id: str, rows: Iterable[tuple[int, int, str, str | None, str, int]]) -> None:
        """rows: (idx, root, input, output, state, size)."""
        with self._write() as db:
            db.executemany(
                "INSERT INTO files (job_id, idx, root, input, output, state, size) VALUES (?, ?, ?, ?, ?, ?, ?)",
                ((job_id, *row) for row in rows))

    def record_files(self, job_id: str, updates: list[tuple[Any, ...]], counts: tuple[int, int, int, int],
                     elapsed: float) -> None:
        """updates: (state, attempts, kind, error, traceback, duration, result_json, size, idx)."""
        with self._write() as db:
            db.executemany(
                "UPDATE files SET state = ?, attempts = ?, kind = ?, error = ?, traceback = ?, duration = ?, "
                "result = ?, size = COALESCE(?, size) WHERE job_id = ? AND idx = ?",
                ((*u[:8], job_id, u[8]) for u in updates))
            self._store_counts(db, job_id, counts, elapsed)

    def store_counts(self, job_id: str, counts: tuple[int, int, int, int], elapsed: float) -> None:
        with self._write() as db:
            self._store_counts(db, job_id, counts, elapsed)

    @staticmethod
    def _store_counts(db: sqlite3.Connection, job_id: str, counts: tuple[int, int, int, int], elapsed: float) -> None:
        total, done, failed, skipped = counts
        db.execute("UPDATE jobs SET total = ?, done = ?, failed = ?, skipped = ?, heartbeat = ?, elapsed = ? "
                   "WHERE id = ?", (total, done, failed, skipped, time.time(), elapsed, job_id))

    def reset_files(self, job_id: str, from_states: tuple[FileStatus, ...]) -> int:
        """Mark files in ``from_states`` pending again (retry); returns how many."""
        marks = ",".join("?" for _ in from_states)
        with self._write() as db:
            cur = db.execute(f"UPDATE files SET state = 'pending', attempts = 0 WHERE job_id = ? AND state IN ({marks})",
                             (job_id, *[s.value for s in from_states]))
            return cur.rowcount

    def mark_planned(self, job_id: str) -> None:
        with self._write() as db:
            db.execute("UPDATE jobs SET planned = 1 WHERE id = ?", (job_id,))

    def delete_files(self, job_id: str) -> None:
        with self._write() as db:
            db.execute("DELETE FROM files WHERE job_id = ?", (job_id,))

    def files(self, job_id: str, states: tuple[FileStatus, ...] | None = None) -> list[FileRecord]:
        sql = "SELECT * FROM files WHERE job_id = ?"
        args: list[Any] = [job_id]
        if states:
            sql += f" AND state IN ({','.join('?' for _ in states)})"
            args += [s.value for s in states]
        return [_file_from_row(r) for r in self._read(sql + " ORDER BY idx", args)]

    def counts(self, job_id: str) -> dict[FileStatus, int]:
        rows = self._read("SELECT state, count(*) AS n FROM files WHERE job_id = ? GROUP BY state", (job_id,))
        result = {s: 0 for s in FileStatus}
        for r in rows:
            result[FileStatus(r["state"])] = r["n"]
        return result

    def done_results(self, job_id: str) -> Iterator[tuple[int, str, Any]]:
        """(root index, input path, result) of every file done, in planning order."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT root, input, result FROM files WHERE job_id = ? AND state = 'done' ORDER BY idx",
                (job_id,)).fetchall()
        for root, src, result in rows:
            yield root, src, _load_result(result)


def _load_result(text: str | None) -> Any:
    if text is None:
        return None
    if text[0] == '"' and "\\" not in text:
        return text[1:-1]  # a plain string (a digest): skip the JSON parser, once per file
    return json.loads(text)


def _job_from_row(r: sqlite3.Row) -> JobRecord:
    return JobRecord(
        id=r["id"], name=r["name"], processor=r["processor"], identity=r["identity"],
        payload_hash=r["payload_hash"], spec=JobSpec.from_json(r["spec"]), state=JobState(r["state"]),
        error=r["error"], created=r["created"], started=r["started"], finished=r["finished"],
        elapsed=r["elapsed"], owner_pid=r["owner_pid"], owner_host=r["owner_host"], heartbeat=r["heartbeat"],
        total=r["total"], done=r["done"], failed=r["failed"], skipped=r["skipped"],
        root_is_dir=tuple(json.loads(r["roots"])), planned=bool(r["planned"]))


def _file_from_row(r: sqlite3.Row) -> FileRecord:
    return FileRecord(
        idx=r["idx"], root=r["root"], input=r["input"], output=r["output"], state=FileStatus(r["state"]),
        attempts=r["attempts"], kind=r["kind"], error=r["error"], traceback=r["traceback"],
        duration=r["duration"], size=r["size"], result=_load_result(r["result"]))

