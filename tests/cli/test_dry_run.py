"""``batchmill run … --dry-run``: every file's verdict, decided by the run's own rules, and no
processor run (a processor that records its calls records none)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.timeout(120)

RECORDER = Path(__file__).resolve().parent / "scripts" / "record_calls.py"


def batchmill(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "batchmill.gui.launcher", *args], capture_output=True, text=True,
                          timeout=90, env={**os.environ, **(env or {})})


def json_lines(stdout: str) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """(verdict record by input, the summary record) of a --dry-run --json."""
    records = [json.loads(line) for line in stdout.splitlines()]
    assert records and records[-1]["type"] == "summary", stdout
    files = {r["input"]: r for r in records[:-1]}
    assert all(r["type"] == "file" for r in records[:-1])
    return files, records[-1]


@pytest.fixture
def calls(tmp_path: Path) -> Path:
    return tmp_path / "calls.log"


def test_dry_run_gives_each_file_its_verdict_and_runs_nothing(tmp_path: Path, calls: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "done.txt").write_text("made before\n")
    out = tmp_path / "out"
    common = ["--output", str(out), "--param", f"script={RECORDER}", "--name", "{stem}.out", "--exclude", "*.tmp",
              "--overwrite", "changed"]
    first = batchmill("run", "python", str(folder), *common, "-q", env={"RECORD_CALLS": str(calls)})
    assert first.returncode == 0, first.stderr
    assert calls.read_text() == "done.txt\n"
    calls.unlink()
    (folder / "fresh.txt").write_text("new\n")
    (folder / "twin.csv").write_text("one\n")  # twin.csv and twin.txt both become twin.out
    (folder / "twin.txt").write_text("two\n")
    (folder / "scratch.tmp").write_text("left out\n")

    result = batchmill("run", "python", str(folder), *common, "--dry-run", "--json", env={"RECORD_CALLS": str(calls)})

    files, summary = json_lines(result.stdout)
    verdicts = {Path(k).name: (v["verdict"], v["output"] and Path(v["output"]).name) for k, v in files.items()}
    assert verdicts == {
        "done.txt": ("up to date", "done.out"),
        "fresh.txt": ("new", "fresh.out"),
        "twin.csv": ("new", "twin.out"),
        "twin.txt": ("collision", "twin.out"),
        "scratch.tmp": ("excluded", None),
    }
    collision = files[str(folder / "twin.txt")]
    assert collision["other_input"] == str(folder / "twin.csv")
    assert str(folder / "twin.csv") in collision["reason"]
    assert files[str(folder / "scratch.tmp")]["reason"] == "--exclude *.tmp"
    assert summary["counts"]["up to date"] == 1 and summary["counts"]["collision"] == 1
    assert summary["to_run"] == 2 and summary["files"] == 4
    assert summary["estimate"]["files"] == 2 and summary["estimate"]["history_files"] == 1  # from the first run
    assert result.returncode == 2  # the job itself would not start: twin.out is claimed twice
    assert "would not start" in result.stderr
    assert not calls.exists(), "a dry run ran the processor"
    assert sorted(p.name for p in (out / "in").iterdir()) == ["done.out"]


def test_dry_run_text_names_the_full_destination_and_the_counts(tmp_path: Path, calls: Path) -> None:
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("a\n")
    (folder / "sub" / "b.txt").write_text("b\n")
    out = tmp_path / "out"
    (out / "in").mkdir(parents=True)
    (out / "in" / "a.txt").write_text("old output\n")

    result = batchmill("run", "python", str(folder), "--output", str(out), "--param", f"script={RECORDER}",
                       "--dry-run", env={"RECORD_CALLS": str(calls)})

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert f"{folder / 'a.txt'} -> {out / 'in' / 'a.txt'}" in lines[0] and lines[0].startswith("kept")
    assert f"{folder / 'sub' / 'b.txt'} -> {out / 'in' / 'sub' / 'b.txt'}" in lines[1] and lines[1].startswith("new")
    assert lines[-2] == "dry run: 2 files, 1 to run: 1 new, 1 kept; nothing was run"
    assert lines[-1] == ("estimate: none yet (no earlier job of python in the journal; --estimate sample times "
                         "a few files)")
    assert not calls.exists()
    assert (out / "in" / "a.txt").read_text() == "old output\n"


def test_dry_run_of_a_job_that_cannot_start_exits_2_with_the_reason(tmp_path: Path) -> None:
    result = batchmill("run", "checksum", str(tmp_path / "missing"), "--output", str(tmp_path / "out"), "--dry-run")

    assert result.returncode == 2
    assert "does not exist" in result.stderr and "Traceback" not in result.stderr
