"""Command-line habits: ``-v`` beside ``-q``, every exit-2 error through one path (with the
``--json`` object when ``--json`` is given), and ``batchmill processors | head`` without a
BrokenPipe traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(120)
BATCHMILL = [sys.executable, "-m", "batchmill.gui.launcher"]


def batchmill(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BATCHMILL, *args], capture_output=True, text=True, timeout=90)


def inputs(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.txt", "b.txt"):
        (folder / name).write_text(name)
    return folder


def test_verbose_prints_a_line_per_file(tmp_path: Path) -> None:
    folder = inputs(tmp_path)
    first = batchmill("run", "checksum", str(folder), "--output", str(tmp_path / "out"), "-v")
    assert first.returncode == 0, first.stderr
    assert f"done: {folder / 'a.txt'} (" in first.stderr and f"done: {folder / 'b.txt'} (" in first.stderr

    script = Path(__file__).resolve().parent / "scripts" / "run_upper.py"
    args = ("run", "python", str(folder), "--output", str(tmp_path / "up"), "--param", f"script={script}",
            "--verbose")
    batchmill(*args)
    again = batchmill(*args)
    assert f"skipped: {folder / 'a.txt'} -> {tmp_path / 'up' / 'in' / 'a.txt'} (exists)" in again.stderr


def test_quiet_and_verbose_do_not_go_together(tmp_path: Path) -> None:
    result = batchmill("run", "checksum", str(inputs(tmp_path)), "--output", str(tmp_path / "o"), "-q", "-v")
    assert result.returncode == 2
    assert "not allowed with argument" in result.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["run", "checksum", "{in}"], "run needs --output DIR"),
    (["run", "checksum", "{in}", "--output", "{out}", "--halt-after", "lots"],
     "--halt-after takes a number of failures (e.g. 5) or a percentage (e.g. 10%), not 'lots'"),
    (["run", "checksum", "{in}", "--output", "{out}", "--workers", "0"], "argument --workers/-j: must be 1 or more"),
    (["run", "checksum", "{in}", "--output", "{out}", "--overwrite", "never"], "argument --overwrite: invalid choice"),
    (["run", "nope", "{in}", "--output", "{out}"], "unknown processor 'nope'"),
    (["run", "checksum", "{in}/missing", "--output", "{out}"], "does not exist"),
    (["run", "checksum", "{in}", "--output", "{out}", "--param", "algorithm"], "--param needs NAME=VALUE"),
    (["run", "checksum", "{in}", "--output", "{out}", "--frobnicate"], "unrecognized arguments: --frobnicate"),
    (["retry", "nosuchjob"], "no job 'nosuchjob'"),
    (["show", "nosuchjob"], "no job 'nosuchjob'"),
])
def test_every_exit_2_error_prints_the_json_object(tmp_path: Path, args: list[str], message: str) -> None:
    folder = inputs(tmp_path)
    args = [a.replace("{in}", str(folder)).replace("{out}", str(tmp_path / "out")) for a in args]

    result = batchmill(*args, "--json")

    assert result.returncode == 2, result.stderr
    assert "batchmill: error: " in result.stderr and message in result.stderr
    assert "Traceback" not in result.stderr
    data = json.loads(result.stdout)
    assert (data["state"], data["job_id"], data["total"]) == ("error", None, 0)
    assert message in data["error"]
    without = batchmill(*args)
    assert (without.returncode, without.stdout) == (2, "")


@pytest.mark.parametrize("reader", ["head -n 1", "true"])  # true: the pipe is closed before anything is written
def test_processors_into_head_has_no_broken_pipe_traceback(reader: str) -> None:
    done = subprocess.run(" ".join(f"'{a}'" for a in BATCHMILL) + f" processors | {reader}; exit ${{PIPESTATUS[0]}}",
                          shell=True, executable="/bin/bash", capture_output=True, text=True, timeout=60)
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
    assert done.returncode in (0, 141)  # 141: stopped by the closed pipe, as `ls | true` is


def test_a_bootstrap_error_prints_the_json_object_too(tmp_path: Path) -> None:
    import os

    result = subprocess.run([*BATCHMILL, "run", "checksum", str(inputs(tmp_path)), "--output", str(tmp_path / "o"),
                             "--json"], capture_output=True, text=True, timeout=90,
                            env={**os.environ, "BATCHMILL_PYTHON": "/no/such/python"})
    assert result.returncode == 2
    assert "batchmill: error: BATCHMILL_PYTHON names /no/such/python" in result.stderr
    assert json.loads(result.stdout)["error"].startswith("BATCHMILL_PYTHON names /no/such/python")
