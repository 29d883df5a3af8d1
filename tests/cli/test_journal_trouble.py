"""Issue 12, item 9: trouble with the journal — a damaged file, a read-only folder or file, a
folder that cannot be made, a full disk, a lock held too long — gives exit 2 and a message that
names the file and says what to do, under ``jobs``, ``run``, ``resume`` and ``show``: never a
traceback, and a damaged journal is never replaced behind the operator's back."""

from __future__ import annotations

import os
import resource
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(180)

EXIT_USAGE = 2
# Root opens any file whatever its mode; without these capabilities a read-only folder bites again.
DROP_DAC = ["setpriv", "--inh-caps=-dac_override,-dac_read_search", "--bounding-set=-dac_override,-dac_read_search"]
COMMANDS = [["jobs"], ["show", "abc"], ["resume"], ["run", "checksum", "{inputs}", "--output", "{out}"]]


def batchmill(*args: str, prefix: tuple[str, ...] = (), **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*prefix, sys.executable, "-m", "batchmill.gui.launcher", *args], capture_output=True,
                          text=True, timeout=120, **kwargs)  # type: ignore[call-overload]


def command(words: list[str], tmp_path: Path) -> list[str]:
    inputs = tmp_path / "inputs"
    if not inputs.exists():
        inputs.mkdir()
        (inputs / "a.txt").write_text("a\n")
    return [w.format(inputs=inputs, out=tmp_path / "out") for w in words]


def assert_refused(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == EXIT_USAGE, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, result.stderr
    assert result.stderr.startswith("batchmill: error: "), result.stderr
    for needle in needles:
        assert needle in result.stderr, (needle, result.stderr)


def journal_with_a_job(tmp_path: Path, home: Path) -> Path:
    result = batchmill(*command(COMMANDS[3], tmp_path))
    assert result.returncode == 0, result.stderr
    path = home / "journal.sqlite3"
    assert path.exists() and not Path(f"{path}-wal").exists()  # the last close checkpointed it
    return path


@pytest.mark.parametrize("words", COMMANDS, ids=lambda w: w[0])
def test_a_garbage_journal_is_named_and_kept(tmp_path: Path, batchmill_home: Path, words: list[str]) -> None:
    batchmill_home.mkdir()
    path = batchmill_home / "journal.sqlite3"
    garbage = b"this is not a database, it is a shopping list\n" * 200
    path.write_bytes(garbage)

    result = batchmill(*command(words, tmp_path))

    assert_refused(result, f"the journal {path} is damaged", "batchmill journal recover")
    assert path.read_bytes() == garbage  # never silently replaced
    assert sorted(p.name for p in batchmill_home.iterdir()) == ["journal.sqlite3"]


@pytest.mark.parametrize("words", COMMANDS, ids=lambda w: w[0])
def test_a_truncated_journal_is_named_and_kept(tmp_path: Path, batchmill_home: Path, words: list[str]) -> None:
    path = journal_with_a_job(tmp_path, batchmill_home)
    with open(path, "r+b") as handle:
        handle.truncate(4096)  # the first page only: every table's pages are gone
    kept = path.read_bytes()

    result = batchmill(*command(words, tmp_path))

    assert_refused(result, f"the journal {path} is damaged", "batchmill journal recover")
    assert path.read_bytes() == kept


@pytest.mark.parametrize("words", COMMANDS, ids=lambda w: w[0])
def test_a_read_only_home_folder_is_named(tmp_path: Path, batchmill_home: Path, words: list[str]) -> None:
    batchmill_home.mkdir(mode=0o555)

    result = batchmill(*command(words, tmp_path), prefix=tuple(DROP_DAC))

    assert_refused(result, f"the journal {batchmill_home / 'journal.sqlite3'} cannot be created",
                   f"the folder {batchmill_home} is not writable", "BATCHMILL_HOME")


@pytest.mark.parametrize("words", [COMMANDS[2], COMMANDS[3]], ids=lambda w: w[0])
def test_a_read_only_journal_file_is_named(tmp_path: Path, batchmill_home: Path, words: list[str]) -> None:
    path = journal_with_a_job(tmp_path, batchmill_home)
    db = sqlite3.connect(path)  # an interrupted job, so resume has something to write
    db.execute("UPDATE jobs SET state = 'running', owner_pid = 999999999")
    db.commit()
    db.close()
    path.chmod(0o444)

    result = batchmill(*command(words, tmp_path), prefix=tuple(DROP_DAC))

    assert_refused(result, f"the journal {path} cannot be written", f"{path} is read-only")


def test_a_read_only_journal_file_can_still_be_listed(tmp_path: Path, batchmill_home: Path) -> None:
    path = journal_with_a_job(tmp_path, batchmill_home)
    path.chmod(0o444)

    result = batchmill("jobs", prefix=tuple(DROP_DAC))

    assert result.returncode == 0, result.stderr
    assert "checksum" in result.stdout


@pytest.mark.parametrize("words", COMMANDS, ids=lambda w: w[0])
def test_a_home_folder_that_cannot_be_made_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    words: list[str]) -> None:
    (tmp_path / "a-file").write_text("not a folder\n")
    home = tmp_path / "a-file" / "batchmill"
    monkeypatch.setenv("BATCHMILL_HOME", str(home))

    result = batchmill(*command(words, tmp_path))

    assert_refused(result, f"cannot make the journal's folder {home}", "BATCHMILL_HOME")


@pytest.fixture
def tiny_disk(tiny_disk_of: Callable[[str], Path]) -> Path:
    """A 256 KiB file system of its own (a tmpfs), if this machine lets the test mount one."""
    return tiny_disk_of("256k")


def fill(folder: Path) -> None:
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass  # full
    finally:
        os.close(fd)


def test_a_full_disk_under_the_journal_is_named(tmp_path: Path, tiny_disk: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    home = tiny_disk / "home"
    monkeypatch.setenv("BATCHMILL_HOME", str(home))
    assert batchmill("jobs").returncode == 0
    fill(tiny_disk)

    result = batchmill(*command(COMMANDS[3], tmp_path))

    assert_refused(result, f"the journal {home / 'journal.sqlite3'}", "full")


def test_a_journal_that_cannot_grow_is_named(tmp_path: Path, batchmill_home: Path) -> None:
    """The same without a file system of its own: a file-size limit makes every write fail."""
    assert batchmill("jobs").returncode == 0
    size = (batchmill_home / "journal.sqlite3").stat().st_size

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, resource.RLIM_INFINITY))

    result = batchmill(*command(COMMANDS[3], tmp_path), preexec_fn=limit)

    assert_refused(result, f"the journal {batchmill_home / 'journal.sqlite3'}", "full")


def test_a_journal_locked_too_long_is_named(tmp_path: Path, batchmill_home: Path,
                                            monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from batchmill.core import journal as journal_module
    from batchmill.core.cli import main

    assert batchmill("jobs").returncode == 0
    path = batchmill_home / "journal.sqlite3"
    monkeypatch.setattr(journal_module, "BUSY_TIMEOUT_S", 0.3)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another program keeps the write lock
    try:
        code = main(command(COMMANDS[3], tmp_path))
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    err = capsys.readouterr().err
    assert code == EXIT_USAGE, err
    assert f"the journal {path} is locked by another program" in err and "Traceback" not in err


@pytest.mark.parametrize("words", [COMMANDS[2], COMMANDS[3]], ids=lambda w: w[0])
def test_json_commands_print_the_error_as_json(tmp_path: Path, batchmill_home: Path, words: list[str]) -> None:
    import json

    batchmill_home.mkdir()
    (batchmill_home / "journal.sqlite3").write_bytes(b"garbage" * 1000)

    result = batchmill(*command(words, tmp_path), "--json")

    assert_refused(result, "is damaged")
    data = json.loads(result.stdout)
    assert data["state"] == "error" and "is damaged" in data["error"]
