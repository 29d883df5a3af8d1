"""``batchmill journal check`` and ``batchmill journal recover`` (issue 12, item 9): a damaged
journal is named by check, and recover keeps what can be kept, moving the damaged file aside
(never deleting it), with the sqlite3 program's ``.recover`` or, without it, row by row."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(180)


def batchmill(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "batchmill.gui.launcher", *args], capture_output=True, text=True,
                          timeout=120, env=env)


def two_jobs(tmp_path: Path, home: Path) -> Path:
    for name in ("first", "second"):
        folder = tmp_path / name
        folder.mkdir()
        for n in range(30):
            (folder / f"{n:02d}.txt").write_text(f"{name} {n}\n")
        done = batchmill("run", "checksum", str(folder), "--output", str(tmp_path / "out"), "--job-name", name)
        assert done.returncode == 0, done.stderr
    return home / "journal.sqlite3"


def damage_the_file_records(path: Path) -> None:
    """Garbage over the first page of the file records' table: the jobs stay readable."""
    db = sqlite3.connect(path)
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'file_records'").fetchone()[0]
    db.close()
    with open(path, "r+b") as handle:
        handle.seek((root - 1) * page_size)
        handle.write(b"\xde\xad" * (page_size // 2))


def sqlite3_recover_works(tmp_path: Path) -> bool:
    """Whether this machine's sqlite3 program has a working ``.recover`` (it needs the
    sqlite_dbpage table, which not every build has: Debian 12's answers "SQL logic error")."""
    sound = tmp_path / "sound.db"
    db = sqlite3.connect(sound)
    db.execute("CREATE TABLE t (x)")
    db.commit()
    db.close()
    try:
        return subprocess.run(["sqlite3", str(sound), ".recover"], capture_output=True, timeout=30).returncode == 0
    except FileNotFoundError:
        return False


def without_sqlite3_program(tmp_path: Path) -> dict[str, str]:
    empty = tmp_path / "no-programs"
    empty.mkdir(exist_ok=True)
    return {**os.environ, "PATH": str(empty)}


def test_check_says_a_sound_journal_is_sound(tmp_path: Path, batchmill_home: Path) -> None:
    path = two_jobs(tmp_path, batchmill_home)

    result = batchmill("journal", "check")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"the journal {path} is sound (2 jobs)"
    recovered = batchmill("journal", "recover")
    assert recovered.stdout.strip() == f"the journal {path} is sound; nothing to recover"
    assert sorted(p.name for p in batchmill_home.iterdir()) == ["journal.sqlite3"]


@pytest.mark.parametrize("program", ["sqlite3", "none"])
def test_recover_keeps_the_jobs_of_a_damaged_journal_and_the_damaged_file(tmp_path: Path, batchmill_home: Path,
                                                                          program: str) -> None:
    path = two_jobs(tmp_path, batchmill_home)
    damage_the_file_records(path)
    damaged_bytes = path.read_bytes()
    assert batchmill("show", "x").returncode == 2  # the damage is met

    check = batchmill("journal", "check")
    assert check.returncode == 1, check.stdout + check.stderr
    assert f"the journal {path} is damaged:" in check.stderr and "batchmill journal recover" in check.stderr

    env = without_sqlite3_program(tmp_path) if program == "none" else None
    result = batchmill("journal", "recover", "--json", env=env)

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    uses_program = program == "sqlite3" and sqlite3_recover_works(tmp_path)
    assert report["method"] == ("sqlite3 .recover" if uses_program else "row by row")
    assert report["rows"]["jobs"] == 2
    kept = Path(report["damaged_copy"])
    assert kept.parent == batchmill_home and kept.name.startswith("journal.sqlite3.damaged-")
    assert kept.read_bytes() == damaged_bytes  # moved aside, not changed, not deleted
    assert batchmill("journal", "check").returncode == 0
    listed = batchmill("jobs", "--json")
    assert listed.returncode == 0, listed.stderr
    assert sorted(job["name"] for job in json.loads(listed.stdout)) == ["first", "second"]
    for job in json.loads(listed.stdout):
        assert batchmill("show", job["job_id"]).returncode == 0


def test_recover_of_a_journal_with_nothing_readable_starts_afresh_and_keeps_the_file(tmp_path: Path,
                                                                                      batchmill_home: Path) -> None:
    batchmill_home.mkdir()
    path = batchmill_home / "journal.sqlite3"
    garbage = b"not a database at all\n" * 500
    path.write_bytes(garbage)
    check = batchmill("journal", "check")
    assert check.returncode == 1 and "file is not a database" in check.stderr

    result = batchmill("journal", "recover")

    assert result.returncode == 0, result.stderr
    assert f"recovered the journal {path} (row by row): kept 0 jobs, 0 payloads, 0 file records" in result.stdout
    kept = [p for p in batchmill_home.iterdir() if p.name.startswith("journal.sqlite3.damaged-")]
    assert len(kept) == 1 and kept[0].read_bytes() == garbage
    assert f"the damaged file is kept as {kept[0]}" in result.stdout
    assert batchmill("jobs").stdout.strip() == "no jobs yet"
