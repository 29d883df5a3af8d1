"""Issue 12, items 6 and 9 with a real journal: its disk fills while a job scans and runs. The
CLI used to hang for ever; it must end with exit 2 and the journal's own message (which file,
what to do), no traceback."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(300)

FILES = 20_000  # their planned records alone are megabytes of journal


def many_files(folder: Path) -> Path:
    folder.mkdir()
    for n in range(FILES):
        (folder / f"{n:05d}.txt").write_bytes(b"%d\n" % n)
    return folder


def run_checksum(inputs: Path, out: Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "batchmill.gui.launcher", "run", "checksum", str(inputs),
                           "--output", str(out), "--workers", "1", "--json"], capture_output=True, text=True,
                          timeout=240, **kwargs)  # type: ignore[call-overload]


def assert_ended_by_the_journal(result: subprocess.CompletedProcess[str], journal: Path, needle: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert f"the journal {journal}" in result.stderr and needle in result.stderr, result.stderr[-2000:]
    data = json.loads(result.stdout)
    assert data["state"] == "error" and f"the journal {journal}" in data["error"]


@pytest.fixture
def tiny_disk(tiny_disk_of: Callable[[str], Path]) -> Path:
    return tiny_disk_of("512k")


def test_the_journals_disk_filling_during_a_job_ends_it_with_the_journals_message(
        tmp_path: Path, tiny_disk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATCHMILL_HOME", str(tiny_disk / "home"))

    result = run_checksum(many_files(tmp_path / "in"), tmp_path / "out")

    assert_ended_by_the_journal(result, tiny_disk / "home" / "journal.sqlite3", "the disk is full")


def test_a_journal_that_hits_a_file_size_limit_during_a_job_ends_it_with_the_journals_message(
        tmp_path: Path, batchmill_home: Path) -> None:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (256 << 10, resource.RLIM_INFINITY))

    result = run_checksum(many_files(tmp_path / "in"), tmp_path / "out", preexec_fn=limit)

    assert_ended_by_the_journal(result, batchmill_home / "journal.sqlite3", "full")
