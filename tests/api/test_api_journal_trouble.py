"""Issue 12, item 9 through the Python API: a journal that cannot be used is a JobError (the
API's one "this job cannot start" exception) naming the file and what to do, raised before any
work, and the damaged file is kept."""

from __future__ import annotations

from pathlib import Path

import pytest

import batchmill


@pytest.fixture
def damaged_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    (home / "journal.sqlite3").write_bytes(b"not a database\n" * 300)
    return home


def test_run_with_a_damaged_journal_raises_job_error(tmp_path: Path, damaged_home: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "a.txt").write_text("a\n")

    with pytest.raises(batchmill.JobError, match="is damaged") as caught:
        batchmill.run(lambda src, dst: dst.write_text("x"), inputs, tmp_path / "out", home=damaged_home)

    assert str(damaged_home / "journal.sqlite3") in str(caught.value)
    assert "batchmill journal recover" in str(caught.value)
    assert not (tmp_path / "out").exists()
    assert (damaged_home / "journal.sqlite3").read_bytes() == b"not a database\n" * 300


def test_resume_with_a_damaged_journal_raises_job_error(damaged_home: Path) -> None:
    with pytest.raises(batchmill.JobError, match="is damaged"):
        batchmill.resume(home=damaged_home)
