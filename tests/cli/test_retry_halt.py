"""``batchmill retry`` re-runs only the failed files; ``--halt-after`` stops early and ``resume`` finishes.

The processor (scripts/journal_fail_once.py) appends every call to a log, fails
once for files that have a marker in ``markers``, and always for files named
``bad*``; the tests count the calls per file.
"""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parent / "scripts" / "journal_fail_once.py"
RUN_TIMEOUT_S = 60.0

transform = runpy.run_path(str(SCRIPT))["transform"]


def batchmill_command() -> list[str]:
    console_script = Path(sys.executable).with_name("batchmill")
    if console_script.exists():
        return [str(console_script)]
    return [sys.executable, "-m", "batchmill.gui.launcher"]


def run_batchmill(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(batchmill_command() + list(args), env=os.environ, capture_output=True, text=True,
                            timeout=RUN_TIMEOUT_S)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def make_inputs(folder: Path, names: list[str]) -> dict[str, bytes]:
    folder.mkdir(parents=True)
    contents = {name: f"contents of {name}\n".encode() for name in names}
    for name, data in contents.items():
        (folder / name).write_bytes(data)
    return contents


def run_fail_once(tmp_path: Path, *extra: str, delay: float = 0.0) -> subprocess.CompletedProcess[str]:
    (tmp_path / "markers").mkdir(exist_ok=True)
    return run_batchmill(
        "run", "python", str(tmp_path / "in"), "--output", str(tmp_path / "out"), "--workers", "2",
        "--param", f"script={SCRIPT}", "--param", f"markers={tmp_path / 'markers'}",
        "--param", f"calls={tmp_path / 'calls.log'}", "--param", f"delay={delay}", "--json", *extra)


def read_calls(tmp_path: Path) -> Counter[str]:
    return Counter((tmp_path / "calls.log").read_text().split())


def jobs_by_id() -> dict[str, dict[str, object]]:
    result = run_batchmill("jobs", "--json")
    assert result.returncode == 0
    return {j["job_id"]: j for j in json.loads(result.stdout)}


def jobs_table_row(job_id: str) -> list[str]:
    result = run_batchmill("jobs")
    assert result.returncode == 0
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith(job_id)]
    assert len(rows) == 1, result.stdout
    return rows[0]


def test_retry_runs_only_the_failed_files_again(tmp_path: Path) -> None:
    names = [f"n{n:02d}.txt" for n in range(20)]
    chosen = ["n03.txt", "n11.txt", "n17.txt"]
    contents = make_inputs(tmp_path / "in", names)
    (tmp_path / "markers").mkdir()
    for name in chosen:
        (tmp_path / "markers" / name).touch()

    first = run_fail_once(tmp_path)

    assert first.returncode == 1, first.stderr
    report = json.loads(first.stdout)
    job_id = report["job_id"]
    assert (report["state"], report["done"], report["failed"], report["total"]) == ("completed", 17, 3, 20)
    assert sorted(Path(f["input"]).name for f in report["failures"]) == chosen
    assert f"batchmill retry {job_id}" in first.stderr
    assert sorted(p.name for p in (tmp_path / "out" / "in").iterdir()) == sorted(set(names) - set(chosen))

    # `show` names every failed file with its reason, for people and for scripts.
    shown = run_batchmill("show", job_id)
    assert shown.returncode == 0
    for name in chosen:
        assert f"FAILED {tmp_path / 'in' / name}\n  processor raised ValueError: planned first-time failure of " \
               f"{name}" in shown.stdout
    assert "17 done, 3 failed, 0 skipped of 20" in shown.stdout
    shown_json = json.loads(run_batchmill("show", job_id, "--json").stdout)
    assert (shown_json["job_id"], shown_json["state"], shown_json["failed"]) == (job_id, "completed", 3)
    assert {Path(f["input"]).name: f["error"] for f in shown_json["failures"]} == {
        name: f"processor raised ValueError: planned first-time failure of {name}" for name in chosen}
    assert all("ValueError" in f["traceback"] and f["kind"] == "processor-error" for f in shown_json["failures"])
    # `show` takes a unique prefix of the id too.
    assert json.loads(run_batchmill("show", job_id[:6], "--json").stdout)["job_id"] == job_id
    assert jobs_table_row(job_id)[:7] == [job_id, "completed", "python", "17", "3", "0", "20"]

    retried = run_batchmill("retry", job_id, "--json")

    assert retried.returncode == 0, retried.stderr
    report = json.loads(retried.stdout)
    assert (report["job_id"], report["state"], report["done"], report["failed"], report["total"]) == (
        job_id, "completed", 20, 0, 20)
    calls = read_calls(tmp_path)
    assert calls == Counter({name: 2 if name in chosen else 1 for name in names})
    for name, data in contents.items():
        assert (tmp_path / "out" / "in" / name).read_bytes() == transform(data)
    assert jobs_table_row(job_id)[:7] == [job_id, "completed", "python", "20", "0", "0", "20"]
    assert json.loads(run_batchmill("show", job_id, "--json").stdout)["failures"] == []


def test_retry_of_an_unknown_job_is_a_usage_error(tmp_path: Path) -> None:
    result = run_batchmill("retry", "0123456789ab")
    assert result.returncode == 2
    assert "no job '0123456789ab'" in result.stderr


def test_resume_of_an_unknown_job_is_a_usage_error_said_by_the_engine_thread(tmp_path: Path) -> None:
    """The engine refuses it on its own thread; the CLI still exits 2 with its message, no traceback."""
    result = run_batchmill("resume", "0123456789ab")
    assert result.returncode == 2, result.stderr
    assert "no job '0123456789ab'" in result.stderr and "Traceback" not in result.stderr


# 20% of 20 files is 4 failures. The bad files are one more than it takes to halt, so the resumed
# session (which counts its own failures) meets at most one and must run to the end.
@pytest.mark.parametrize(("halt_after", "failures_to_halt"), [("2", 2), ("20%", 4)])
def test_halt_after_stops_early_and_resume_finishes(tmp_path: Path, halt_after: str,
                                                    failures_to_halt: int) -> None:
    # The always-bad files sort first, so the failures come before most of the work.
    bad = [f"bad{n}.txt" for n in range(failures_to_halt + 1)]
    good = [f"good{n:02d}.txt" for n in range(20 - len(bad))]
    contents = make_inputs(tmp_path / "in", bad + good)

    first = run_fail_once(tmp_path, "--halt-after", halt_after, delay=0.1)

    assert first.returncode == 1, first.stderr
    report = json.loads(first.stdout)
    job_id = report["job_id"]
    assert report["state"] == "halted"
    assert failures_to_halt <= report["failed"] <= len(bad)
    assert report["done"] + report["failed"] < report["total"] == 20
    assert f"--halt-after {halt_after}" in first.stderr
    assert f"batchmill resume {job_id}" in first.stderr
    assert jobs_by_id()[job_id]["state"] == "halted"
    assert jobs_table_row(job_id)[1] == "halted"
    failed_first = {Path(f["input"]).name for f in report["failures"]}

    resumed = run_batchmill("resume", "--json")

    report = json.loads(resumed.stdout)
    assert report["job_id"] == job_id
    assert report["state"] == "completed", resumed.stderr
    assert resumed.returncode == 1  # files still failed
    assert (report["done"], report["failed"], report["total"]) == (len(good), len(bad), 20)
    assert sorted(p.name for p in (tmp_path / "out" / "in").iterdir()) == good
    for name in good:
        assert (tmp_path / "out" / "in" / name).read_bytes() == transform(contents[name])
    calls = read_calls(tmp_path)
    assert {name: calls[name] for name in failed_first} == {name: 1 for name in failed_first}, \
        "resume ran a file that had already failed"
    assert jobs_table_row(job_id)[:7] == [job_id, "completed", "python", str(len(good)), str(len(bad)), "0", "20"]
