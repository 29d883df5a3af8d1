"""``batchmill journal check`` and ``batchmill journal recover``: look at a journal without
changing it, and keep what can be kept of a damaged one.

Recovery never deletes anything: what SQLite can still read is copied into a new journal (by
the ``sqlite3`` program's ``.recover`` when it is installed, which also reads what lies in
damaged pages; otherwise row by row in Python), the damaged file is moved aside under a name of
its own, with its ``-wal`` and ``-shm`` beside it so SQLite can still open it, and the new
journal takes its place.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from batchmill.core.journal_trouble import SQLITE_ERRORS

TABLES = ("jobs", "payloads", "file_records")  # what a journal is; the rest (index, view) is derived
RECOVER_TIMEOUT_S = 600


@dataclass(frozen=True)
class CheckReport:
    path: Path
    exists: bool
    problems: tuple[str, ...]
    jobs: int | None  # None: the jobs could not be counted

    @property
    def sound(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class RecoverReport:
    path: Path
    damaged_copy: Path | None  # where the damaged file now is; None: it was sound, nothing moved
    method: str  # "sqlite3 .recover", "row by row", or "" when nothing was done
    rows: dict[str, int]  # rows kept, by table


def _open_read_only(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(f"file:{quote(os.fspath(path))}?mode=ro", uri=True, isolation_level=None)
    # Damage can leave text that is not UTF-8: read it (with U+FFFD) rather than fail on it.
    db.text_factory = _lenient_text
    return db


def _lenient_text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


@contextmanager
def _no_trace(path: Path) -> Iterator[None]:
    """A read-only look at a WAL journal makes its -wal and -shm (and cannot remove them): remove
    the ones it made, if the -wal holds nothing, so a look leaves the folder as it found it."""
    companions = [Path(f"{path}-wal"), Path(f"{path}-shm")]
    there = [p.exists() for p in companions]
    try:
        yield
    finally:
        wal = companions[0]
        if not there[0] and wal.exists() and wal.stat().st_size == 0:
            for companion, existed in zip(companions, there):
                if not existed and companion.exists():
                    companion.unlink()


def check_journal(path: Path) -> CheckReport:
    """SQLite's integrity check of the journal and a count of its jobs; changes nothing."""
    if not path.exists():
        return CheckReport(path, False, (), 0)
    with _no_trace(path):
        return _check(path)


def _check(path: Path) -> CheckReport:
    problems: list[str] = []
    jobs: int | None = None
    try:
        db = _open_read_only(path)
    except SQLITE_ERRORS as exc:
        return CheckReport(path, True, (_said(exc),), None)
    try:
        problems += [row[0] for row in db.execute("PRAGMA integrity_check(20)") if row[0] != "ok"]
        have = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        problems += [f"the table {name} is missing" for name in TABLES if name not in have]
        if "jobs" in have:
            jobs = db.execute("SELECT count(*) FROM jobs").fetchone()[0]
    except SQLITE_ERRORS as exc:
        problems.append(_said(exc))
    finally:
        db.close()
    return CheckReport(path, True, tuple(problems), jobs)


def _said(exc: Exception) -> str:
    """SQLite's message; one quoting bytes that are not UTF-8 comes as a UnicodeDecodeError."""
    if isinstance(exc, UnicodeDecodeError) and isinstance(exc.object, bytes):
        return exc.object.decode("utf-8", "replace")
    return str(exc)


def recover_journal(path: Path) -> RecoverReport:
    """Replace a damaged journal by what can be read of it; the damaged file is moved aside."""
    if check_journal(path).sound:
        return RecoverReport(path, None, "", {})
    fresh = path.with_name(f"{path.name}.recovering")
    for leftover in (fresh, Path(f"{fresh}-wal"), Path(f"{fresh}-shm"), Path(f"{fresh}-journal")):
        if leftover.exists():
            leftover.unlink()  # our own half-made copy from a recovery that was stopped
    method = "sqlite3 .recover" if _recover_with_sqlite3(path, fresh) else "row by row"
    if method == "row by row":
        if fresh.exists():
            fresh.unlink()
        _recover_row_by_row(path, fresh)
    rows = _count_rows(fresh)
    damaged_copy = _move_aside(path)
    os.replace(fresh, path)
    return RecoverReport(path, damaged_copy, method, rows)


def _recover_with_sqlite3(path: Path, fresh: Path) -> bool:
    """``sqlite3 DAMAGED .recover | sqlite3 FRESH``; False when the program is missing or fails."""
    program = shutil.which("sqlite3")
    if program is None:
        return False
    dump = subprocess.run([program, os.fspath(path), ".recover"], capture_output=True, timeout=RECOVER_TIMEOUT_S)
    if dump.returncode != 0:
        return False
    load = subprocess.run([program, os.fspath(fresh)], input=dump.stdout, capture_output=True,
                          timeout=RECOVER_TIMEOUT_S)
    return load.returncode == 0 and fresh.exists()


def _recover_row_by_row(path: Path, fresh: Path) -> None:
    """Copy every row SQLite can still read, table by table (a damaged page loses its rows only)."""
    from batchmill.core.journal import SCHEMA

    out = sqlite3.connect(fresh, isolation_level=None)
    try:
        out.executescript(SCHEMA)
        with _no_trace(path):
            try:
                src = _open_read_only(path)
            except SQLITE_ERRORS:
                return  # nothing readable: the new journal starts empty
            try:
                for table in TABLES:
                    _copy_table(src, out, table)
            finally:
                src.close()
    finally:
        out.close()


def _copy_table(src: sqlite3.Connection, out: sqlite3.Connection, table: str) -> None:
    try:
        columns = [row[1] for row in src.execute(f"PRAGMA table_info({table})")]
        wanted = [row[1] for row in out.execute(f"PRAGMA table_info({table})")]
    except SQLITE_ERRORS:
        return
    shared = [c for c in columns if c in wanted]
    if not shared:
        return
    names = ", ".join(shared)
    insert = f"INSERT OR IGNORE INTO {table} ({names}) VALUES ({', '.join('?' * len(shared))})"
    out.execute("BEGIN")
    try:
        for row in src.execute(f"SELECT {names} FROM {table}"):
            out.execute(insert, row)
    except SQLITE_ERRORS:
        _copy_by_rowid(src, out, table, names, insert)  # a damaged page: go round it
    out.execute("COMMIT")


def _copy_by_rowid(src: sqlite3.Connection, out: sqlite3.Connection, table: str, names: str, insert: str) -> None:
    try:
        highest = src.execute(f"SELECT max(rowid) FROM {table}").fetchone()[0] or 0
    except SQLITE_ERRORS:
        return
    for rowid in range(1, highest + 1):
        try:
            row = src.execute(f"SELECT {names} FROM {table} WHERE rowid = ?", (rowid,)).fetchone()
        except SQLITE_ERRORS:
            continue
        if row is not None:
            out.execute(insert, row)


def _count_rows(path: Path) -> dict[str, int]:
    db = sqlite3.connect(path)
    try:
        have = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return {name: db.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
                for name in (*TABLES, "lost_and_found") if name in have}
    finally:
        db.close()


def _move_aside(path: Path) -> Path:
    """Rename the damaged journal (and its -wal, -shm) to a name no other file has."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    n = 0
    while True:
        target = path.with_name(f"{path.name}.damaged-{stamp}" + (f"-{n}" if n else ""))
        if not os.path.lexists(target):
            break
        n += 1
    os.replace(path, target)
    for suffix in ("-wal", "-shm"):
        companion = Path(f"{path}{suffix}")
        if companion.exists():
            os.replace(companion, Path(f"{target}{suffix}"))
    return target
