"""Issue 12, the scan's smaller items: an unreadable sub-folder is a failed entry (named, counted,
exit 1), not an info line that --quiet hides while JSON says failed 0; a symbolic link that loops
is reported, not silently skipped; links to a device or a FIFO are called what they are, not "a
broken symbolic link"; special files are refused by their type, before anything opens them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from batchmill.core.context import ProcessorContext
from batchmill.core.processors.checksum import FileHasher
from batchmill.core.scan import Filter, iter_folder

pytestmark = pytest.mark.timeout(120)

# Root reads any folder whatever its mode; without these capabilities chmod 000 bites again.
DROP_DAC = ["setpriv", "--inh-caps=-dac_override,-dac_read_search", "--bounding-set=-dac_override,-dac_read_search"]


def batchmill(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*DROP_DAC, sys.executable, "-m", "batchmill.gui.launcher", *args], capture_output=True,
                          text=True, timeout=90)


def scan_notes(root: Path) -> tuple[list[str], list[str]]:
    notes: list[str] = []
    found = [rel for _path, rel, _size in iter_folder(root, Filter((), ()), True, set(), notes.append)]
    return found, notes


@pytest.fixture
def locked_folder(tmp_path: Path) -> Path:
    root = tmp_path / "in"
    (root / "locked").mkdir(parents=True)
    (root / "locked" / "secret.txt").write_text("s\n")
    (root / "a.txt").write_text("a\n")
    (root / "z.txt").write_text("z\n")
    (root / "locked").chmod(0)
    yield root
    (root / "locked").chmod(0o755)


@pytest.mark.parametrize("quiet", [False, True])
def test_an_unreadable_sub_folder_is_a_failed_entry(tmp_path: Path, locked_folder: Path, quiet: bool) -> None:
    result = batchmill("run", "checksum", str(locked_folder), "--output", str(tmp_path / "out"), "--json",
                       *(["--quiet"] if quiet else []))

    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    assert (data["total"], data["done"], data["failed"]) == (3, 2, 1)
    assert [(f["input"], f["error"]) for f in data["failures"]] == [
        (str(locked_folder / "locked"), "the folder cannot be read: Permission denied")]
    assert f"FAILED: {locked_folder / 'locked'}: the folder cannot be read: Permission denied" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_symbolic_link_that_loops_is_reported(tmp_path: Path) -> None:
    root = tmp_path / "in"
    root.mkdir()
    (root / "a.txt").write_text("a\n")
    (root / "loop").symlink_to(root / "loop")

    found, notes = scan_notes(root)

    assert found == ["a.txt"]
    assert notes == [f"skipping {root / 'loop'}: a symbolic link that leads back to itself"]


def test_special_files_and_links_to_them_are_called_what_they_are(tmp_path: Path) -> None:
    root = tmp_path / "in"
    root.mkdir()
    (root / "a.txt").write_text("a\n")
    os.mkfifo(root / "pipe")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(root / "sock"))
    (root / "to-zero").symlink_to("/dev/zero")
    (root / "to-pipe").symlink_to(root / "pipe")
    (root / "dangling").symlink_to(tmp_path / "gone")
    try:
        found, notes = scan_notes(root)
    finally:
        listener.close()

    assert found == ["a.txt"]
    assert notes == [f"skipping {root / 'dangling'}: a broken symbolic link",
                     f"skipping {root / 'pipe'}: a FIFO (named pipe), not a regular file",
                     f"skipping {root / 'sock'}: a socket, not a regular file",
                     f"skipping {root / 'to-pipe'}: a symbolic link to a FIFO (named pipe), not a regular file",
                     f"skipping {root / 'to-zero'}: a symbolic link to a character device, not a regular file"]


@pytest.mark.parametrize("kind", ["fifo", "link to /dev/zero"])
def test_a_dropped_special_file_is_refused_by_its_type(tmp_path: Path, kind: str) -> None:
    special = tmp_path / "special"
    if kind == "fifo":
        os.mkfifo(special)
        what = "a FIFO (named pipe)"
    else:
        special.symlink_to("/dev/zero")
        what = "a character device"

    result = batchmill("run", "checksum", str(special), "--output", str(tmp_path / "out"))

    assert result.returncode == 2, result.stderr
    assert f"batchmill: error: input {special} is {what}, neither a file nor a folder" in result.stderr


def test_checksum_refuses_a_fifo_that_took_a_files_place_without_waiting_on_it(tmp_path: Path) -> None:
    fifo = tmp_path / "was-a-file"
    os.mkfifo(fifo)  # nobody will ever write to it: opening it plainly waits for ever
    outcome: list[BaseException | str] = []

    def hash_it() -> None:
        try:
            outcome.append(FileHasher()(str(fifo), None, ProcessorContext(1, tmp_path, lambda f, m: None)))
        except BaseException as exc:  # noqa: BLE001 - the outcome is what the test looks at
            outcome.append(exc)

    worker = threading.Thread(target=hash_it, daemon=True)
    worker.start()
    worker.join(30)  # generous: an answer takes microseconds, a wait never ends

    assert not worker.is_alive(), "hashing a FIFO waited for a writer"
    assert isinstance(outcome[0], OSError) and "not a regular file" in str(outcome[0]), outcome
