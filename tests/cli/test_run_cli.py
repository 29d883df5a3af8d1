"""``batchmill run`` and ``batchmill processors`` as scripts and operators use them: exit status,
the ``--json`` object, the summary on stderr, ``--timeout`` from the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.timeout(120)

SCRIPTS = Path(__file__).resolve().parent / "scripts"
UPPER = SCRIPTS / "run_upper.py"
SLEEPY = SCRIPTS / "run_sleep_on_bad.py"
JSON_KEYS = {"job_id": str, "state": str, "total": int, "done": int, "failed": int, "skipped": int,
             "elapsed_s": float, "failures": list}


def batchmill(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "batchmill.gui.launcher", *args], capture_output=True, text=True, timeout=90)


def make_folder(folder: Path, names: list[str]) -> Path:
    folder.mkdir(parents=True)
    for name in names:
        (folder / name).write_text(f"this is {name}\n")
    return folder


def one_json_object(stdout: str) -> dict[str, Any]:
    """--json prints exactly one object on stdout; everything else goes to stderr."""
    data = json.loads(stdout)
    assert isinstance(data, dict)
    for key, kind in JSON_KEYS.items():
        assert isinstance(data[key], kind), (key, data)
    return data


def test_json_summary_of_a_run_with_one_failure(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "in", ["a.txt", "b.txt", "bad.txt"])

    result = batchmill("run", "python", str(folder), "--output", str(tmp_path / "out"), "--param", f"script={UPPER}",
                       "--json")

    assert result.returncode == 1, result.stderr
    data = one_json_object(result.stdout)
    assert {k: data[k] for k in ("state", "total", "done", "failed", "skipped")} == {
        "state": "completed", "total": 3, "done": 2, "failed": 1, "skipped": 0}
    assert [{k: f[k] for k in ("input", "error")} for f in data["failures"]] == [
        {"input": str(folder / "bad.txt"), "error": "processor raised ValueError: bad.txt is not welcome"}]
    assert 0 < data["elapsed_s"] < 60


def test_the_summary_names_failed_files_and_how_to_retry(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "in", ["a.txt", "bad.txt"])

    result = batchmill("run", "python", str(folder), "--output", str(tmp_path / "out"), "--param", f"script={UPPER}")

    assert result.returncode == 1 and result.stdout == ""
    job_id = result.stderr.split("(job ")[1].split(")")[0]
    assert "completed: 1 done, 1 failed, 0 skipped of 2 files in " in result.stderr
    assert (f"failed files:\n  {folder / 'bad.txt'}: processor raised ValueError: bad.txt is not welcome\n"
            f"run the failed files again with: batchmill retry {job_id}") in result.stderr
    assert (tmp_path / "out" / "in" / "a.txt").read_text() == "THIS IS A.TXT\n"


def test_a_clean_run_exits_0_and_a_second_run_skips_everything(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "in", ["a.txt", "b.txt", "c.txt"])
    args = ("run", "python", str(folder), "--output", str(tmp_path / "out"), "--param", f"script={UPPER}", "--json")

    first, second = batchmill(*args), batchmill(*args)

    assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
    assert (one_json_object(first.stdout)["done"], one_json_object(second.stdout)["skipped"]) == (3, 3)
    assert one_json_object(second.stdout)["done"] == 0


def test_quiet_prints_no_progress_and_no_summary_on_success(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "in", ["a.txt"])

    result = batchmill("run", "checksum", str(folder), "--output", str(tmp_path / "out"), "--quiet")

    assert (result.returncode, result.stdout) == (0, "")
    assert "files/s" not in result.stderr and "completed:" not in result.stderr and "wrote " not in result.stderr


def test_json_when_the_job_cannot_start(tmp_path: Path) -> None:
    result = batchmill("run", "checksum", str(tmp_path / "absent"), "--output", str(tmp_path / "out"), "--json")

    assert result.returncode == 2
    data = json.loads(result.stdout)
    assert {k: data[k] for k in ("job_id", "state", "total", "failures")} == {
        "job_id": None, "state": "error", "total": 0, "failures": []}
    assert data["error"] == f"input {tmp_path / 'absent'} does not exist"


def test_timeout_from_the_command_line_fails_only_the_slow_file(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "in", ["a.txt", "b.txt", "bad.txt", "c.txt"])

    result = batchmill("run", "python", str(folder), "--output", str(tmp_path / "out"), "--param", f"script={SLEEPY}",
                       "--timeout", "1", "--workers", "2", "--json")

    assert result.returncode == 1, result.stderr
    data = one_json_object(result.stdout)
    assert data["failures"][0]["input"] == str(folder / "bad.txt")
    assert data["failures"][0]["error"] == "ran longer than the 1 s timeout; its worker process was killed"
    assert (data["done"], data["failed"], data["elapsed_s"] < 30) == (3, 1, True)
    assert sorted(p.name for p in (tmp_path / "out" / "in").iterdir()) == ["a.txt", "b.txt", "c.txt"]


def test_processors_lists_the_builtins_with_their_parameters() -> None:
    result = batchmill("processors", "--json")

    assert result.returncode == 0, result.stderr
    by_name = {p["name"]: p for p in json.loads(result.stdout)}
    [algorithm] = by_name["checksum"]["params"]
    assert (algorithm["name"], algorithm["default"], "blake2b" in algorithm["choices"]) == ("algorithm", "sha256", True)
    script = next(p for p in by_name["python"]["params"] if p["name"] == "script")
    assert script["required"] is True and script["type"] == "Path"
