"""What went wrong with the journal, said to a person: which file, what happened, what to do.

Every SQLite or file-system error met while opening, reading or writing the journal becomes one
``JournalError`` whose message names the journal and the way out (``batchmill journal recover``
for a damaged file, a writable ``BATCHMILL_HOME`` for a read-only one, free space for a full
disk). The CLI prints it and exits 2; nothing replaces a damaged journal on its own.
"""

from __future__ import annotations

import os
import random
import sqlite3
import time
from pathlib import Path

# Primary SQLite result codes (an extended code's low byte).
SQLITE_PERM, SQLITE_BUSY, SQLITE_LOCKED, SQLITE_READONLY = 3, 5, 6, 8
SQLITE_IOERR, SQLITE_CORRUPT, SQLITE_FULL, SQLITE_CANTOPEN, SQLITE_NOTADB = 10, 11, 13, 14, 26
OTHER_HOME = "or set BATCHMILL_HOME to a folder you can write"


class JournalError(Exception):
    """The journal cannot be opened, read or written; the message says which file and what to do."""

    def __init__(self, message: str, path: Path, locked: bool = False) -> None:
        super().__init__(message)
        self.path = path
        self.locked = locked  # another program held it for longer than the wait: trying again may work


def folder_error(home: Path, path: Path, exc: OSError) -> JournalError:
    """The journal's folder could not be made."""
    return JournalError(f"cannot make the journal's folder {home}: {exc.strerror or exc}; "
                        f"make it yourself, {OTHER_HOME}", path)


def damaged(path: Path, detail: str) -> JournalError:
    return JournalError(
        f"the journal {path} is damaged ({detail}); `batchmill journal check` says what is wrong and "
        f"`batchmill journal recover` keeps what can be kept (the damaged file is moved aside, never deleted), "
        f"{OTHER_HOME.replace('you can write', 'of its own')} to start afresh", path)


# Errors the sqlite3 module raises about text: Batchmill stores only valid UTF-8 as text (a name
# that is not goes in as a BLOB), so bytes that are not UTF-8 where text is kept mean damage.
SQLITE_ERRORS = (sqlite3.Error, UnicodeDecodeError)
_NOT_UTF8_COLUMN = "Could not decode to UTF-8"


def explain(exc: sqlite3.Error | UnicodeDecodeError, path: Path, busy_timeout_s: float) -> JournalError:
    """The JournalError an SQLite error on ``path`` means.

    A ``UnicodeDecodeError`` is what the sqlite3 module raises when SQLite's own message quotes
    bytes that are not UTF-8 (a flipped byte in the schema: "malformed database schema (jobs) -
    near ...") instead of the error itself: the journal is damaged."""
    if isinstance(exc, UnicodeDecodeError):
        said = exc.object.decode("utf-8", "replace") if isinstance(exc.object, bytes) else str(exc)
        return damaged(path, said)
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    detail = str(exc)
    if primary in (SQLITE_CORRUPT, SQLITE_NOTADB) or detail in ("file is not a database",
                                                                "database disk image is malformed") \
            or detail.startswith(_NOT_UTF8_COLUMN):
        return damaged(path, detail)
    if primary == SQLITE_FULL:
        return JournalError(f"the journal {path} cannot be written: the disk is full ({detail}); free some space, "
                            "then resume the job by its id (batchmill resume JOB_ID): what is done stays done", path)
    if primary in (SQLITE_BUSY, SQLITE_LOCKED):
        return JournalError(f"the journal {path} is locked by another program (waited {busy_timeout_s:g} s for "
                            "it): another Batchmill busy with a big write, or a program holding it open with SQL; "
                            "try again when it is done", path, locked=True)
    if primary in (SQLITE_READONLY, SQLITE_PERM, SQLITE_CANTOPEN):
        return _not_writable(path, detail)
    if primary == SQLITE_IOERR:
        return JournalError(f"the journal {path} could not be read or written ({detail}): the disk may be full, "
                            "at a size limit or failing; free some space or check the disk, "
                            f"{OTHER_HOME}", path)
    return JournalError(f"the journal {path} could not be used ({detail}); `batchmill journal check` looks at it, "
                        f"{OTHER_HOME}", path)


def _not_writable(path: Path, detail: str) -> JournalError:
    home = path.parent
    if not path.exists():
        if not os.access(home, os.W_OK | os.X_OK):
            why = f"the folder {home} is not writable"
        else:
            why = detail
        return JournalError(f"the journal {path} cannot be created: {why}; make it writable, {OTHER_HOME}", path)
    if not os.access(path, os.W_OK):
        why = f"{path} is read-only; make it writable (chmod u+w)"
    elif not os.access(home, os.W_OK | os.X_OK):
        why = (f"its folder {home} is not writable (SQLite keeps {path.name}-wal and {path.name}-shm beside it); "
               "make it writable")
    else:
        why = detail
    return JournalError(f"the journal {path} cannot be written: {why}, {OTHER_HOME}", path)


def switch_to_wal(conn: sqlite3.Connection, timeout_s: float) -> None:
    """Put the journal in WAL mode, waiting out other processes doing the same.

    Several processes opening a fresh journal at once all ask for WAL, and SQLite answers
    ``database is locked`` at once to all but one (the switch needs the file to itself and does
    not wait on the busy handler): so wait a little and ask again, up to ``timeout_s``. A journal
    already in WAL mode (the usual case: the mode is kept in the file) is only asked, not switched."""
    deadline = time.monotonic() + timeout_s
    delay = 0.005
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
                return
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            code = getattr(exc, "sqlite_errorcode", None)
            busy = isinstance(code, int) and code & 0xFF in (SQLITE_BUSY, SQLITE_LOCKED)
            if not busy or time.monotonic() > deadline:
                raise
        time.sleep(delay * (0.5 + random.random()))  # jittered, so the waiting ones do not collide again
        delay = min(delay * 2, 0.2)
