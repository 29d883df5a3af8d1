"""The estimate where the journal has no history: ``--dry-run --estimate sample`` times a few of
the job's files in a worker of its own, into a scratch folder, for about 2 s at most, and
extrapolates; a plain ``--dry-run`` still runs no processor."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

pytestmark = pytest.mark.timeout(180)

SCRIPTS = Path(__file__).resolve().parent / "scripts"
RECORDER = SCRIPTS / "record_calls.py"
SLEEPER = SCRIPTS / "sample_sleep.py"
SCRIBBLE = SCRIPTS / "sample_scribble.py"


def batchmill(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "batchmill.gui.launcher", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


def make_inputs(folder: Path, count: int) -> dict[str, bytes]:
    folder.mkdir(parents=True)
    contents = {}
    for n in range(count):
        data = b"x" * (100 * (n + 1))
        (folder / f"f{n:02d}.txt").write_bytes(data)
        contents[f"f{n:02d}.txt"] = data
    return contents


def summary(stdout: str) -> dict[str, Any]:
    last = json.loads(stdout.splitlines()[-1])
    assert last["type"] == "summary", stdout
    return dict(last)


def test_a_plain_dry_run_still_runs_nothing_and_says_how_to_sample(tmp_path: Path) -> None:
    make_inputs(tmp_path / "in", 5)
    calls = tmp_path / "calls.log"

    result = batchmill("run", "python", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--param",
                       f"script={RECORDER}", "--dry-run", env={"RECORD_CALLS": str(calls)})

    assert result.returncode == 0, result.stderr
    assert not calls.exists()
    assert "estimate: none yet" in result.stdout and "--estimate sample times a few files" in result.stdout


def test_a_sample_times_a_few_files_into_scratch_and_writes_nothing_else(tmp_path: Path) -> None:
    contents = make_inputs(tmp_path / "in", 12)
    calls = tmp_path / "calls.log"
    cache = tmp_path / "cache"
    out = tmp_path / "out"

    text = batchmill("run", "python", str(tmp_path / "in"), "-o", str(out), "--param", f"script={RECORDER}",
                     "--workers", "2", "--dry-run", "--estimate", "sample",
                     env={"RECORD_CALLS": str(calls), "XDG_CACHE_HOME": str(cache)})

    assert text.returncode == 0, text.stderr
    line = next(l for l in text.stdout.splitlines() if l.startswith("estimate:"))
    assert "for 12 files on 2 workers (sample-based: 3 files of this job timed" in line, line
    ran = calls.read_text().split()
    # the smallest (twice: once to warm the worker up), the quarter and the median by size
    assert sorted(ran) == ["f00.txt", "f00.txt", "f03.txt", "f06.txt"], ran
    assert not out.exists(), "the sample never writes to the output folder"
    assert {p.name: p.read_bytes() for p in (tmp_path / "in").iterdir()} == contents
    scratch = cache / "batchmill" / "scratch"
    assert list(scratch.iterdir()) == [], "the sample's scratch folder is removed"

    as_json = batchmill("run", "python", str(tmp_path / "in"), "-o", str(out), "--param", f"script={RECORDER}",
                        "--dry-run", "--json", "--estimate", "sample", env={"RECORD_CALLS": str(calls)})
    estimate = summary(as_json.stdout)["estimate"]
    assert (estimate["basis"], estimate["sample_files"], estimate["files"]) == ("sample", 3, 12)
    assert estimate["seconds"] > 0 and estimate["sample_cut_short"] is False


def test_a_processor_that_writes_its_inputs_cannot_touch_them_in_a_sample(tmp_path: Path) -> None:
    """A preview changes nothing: the sample's processor is handed scratch copies of its files,
    so one that appends to its input, or writes beside it, writes into the scratch folder only."""
    contents = make_inputs(tmp_path / "in", 8)
    cache = tmp_path / "cache"

    result = batchmill("run", "python", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--param",
                       f"script={SCRIBBLE}", "--dry-run", "--json", "--estimate", "sample",
                       env={"XDG_CACHE_HOME": str(cache)})

    assert result.returncode == 0, result.stderr
    assert {p.name: p.read_bytes() for p in (tmp_path / "in").iterdir()} == contents
    estimate = summary(result.stdout)["estimate"]
    assert (estimate["basis"], estimate["sample_files"]) == ("sample", 3), estimate
    assert list((cache / "batchmill" / "scratch").iterdir()) == [], "the copies go with the scratch folder"


def test_a_file_that_cannot_be_read_is_left_out_of_the_sample_not_the_whole_of_it(tmp_path: Path) -> None:
    make_inputs(tmp_path / "in", 8)
    locked = tmp_path / "in" / "f04.txt"  # the median by size: one of the three picked
    locked.chmod(0)
    # root reads any file whatever its mode; without these capabilities chmod 000 bites again
    drop = ["setpriv", "--inh-caps=-dac_override,-dac_read_search", "--bounding-set=-dac_override,-dac_read_search"]
    try:
        result = subprocess.run([*drop, sys.executable, "-m", "batchmill.gui.launcher", "run", "python",
                                 str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--param", f"script={RECORDER}",
                                 "--dry-run", "--json", "--estimate", "sample"], capture_output=True, text=True,
                                timeout=120, env={**os.environ, "RECORD_CALLS": str(tmp_path / "calls.log")})
    finally:
        locked.chmod(0o644)

    assert result.returncode == 0, result.stderr
    estimate = summary(result.stdout)["estimate"]
    assert (estimate["basis"], estimate["sample_files"]) == ("sample", 2), estimate
    assert sorted((tmp_path / "calls.log").read_text().split()) == ["f00.txt", "f00.txt", "f02.txt"]


def test_the_estimate_extrapolates_the_sampled_time_over_files_and_workers(tmp_path: Path) -> None:
    make_inputs(tmp_path / "in", 10)

    result = batchmill("run", "python", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--param",
                       f"script={SLEEPER}", "--param", "seconds=0.3", "--workers", "2", "--dry-run", "--json",
                       "--estimate", "sample")

    assert result.returncode == 0, result.stderr
    estimate = summary(result.stdout)["estimate"]
    # each file sleeps 0.3 s: 10 files on 2 workers take at least 1.5 s of their own
    assert estimate["per_file_s"] + estimate["per_byte_s"] * 500 >= 0.3
    assert estimate["seconds"] >= 1.5 and estimate["workers"] == 2


def test_a_file_that_hangs_cuts_the_sample_short_and_leaves_no_process(tmp_path: Path) -> None:
    make_inputs(tmp_path / "in", 4)
    log = tmp_path / "pids.log"
    started = time.monotonic()

    result = batchmill("run", "python", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--param",
                       f"script={SLEEPER}", "--param", "seconds=600", "--param", f"log={log}", "--dry-run",
                       "--estimate", "sample")

    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 90, "bounded: the sample's budget, not the file's 600 s"
    line = next(l for l in result.stdout.splitlines() if l.startswith("estimate:"))
    assert "cut short at 2 s: a lower bound" in line, line
    [pid] = {int(entry.split()[0]) for entry in log.read_text().splitlines()}
    deadline = time.monotonic() + 10
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the sample's worker was left running"
        time.sleep(0.05)


def test_with_history_the_estimate_comes_from_it_and_nothing_is_sampled(tmp_path: Path) -> None:
    make_inputs(tmp_path / "in", 6)
    calls = tmp_path / "calls.log"
    run = batchmill("run", "python", str(tmp_path / "in"), "-o", str(tmp_path / "first"), "--param",
                    f"script={RECORDER}", "-q", env={"RECORD_CALLS": str(calls)})
    assert run.returncode == 0, run.stderr
    calls.write_text("")

    result = batchmill("run", "python", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--param",
                       f"script={RECORDER}", "--dry-run", "--estimate", "sample", env={"RECORD_CALLS": str(calls)})

    assert result.returncode == 0, result.stderr
    assert "(from 1 earlier job of " in result.stdout and calls.read_text() == ""


def test_sample_without_dry_run_is_refused(tmp_path: Path) -> None:
    make_inputs(tmp_path / "in", 1)
    result = batchmill("run", "checksum", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--estimate", "sample")
    assert result.returncode == 2 and "--estimate sample goes with --dry-run" in result.stderr


def test_a_sample_whose_worker_dies_or_whose_files_fail_is_told_not_raised(tmp_path: Path) -> None:
    make_inputs(tmp_path / "in", 8)
    dies = tmp_path / "dies.py"
    dies.write_text("import os\ndef process(src, dst):\n    os._exit(3)\n")
    fails = tmp_path / "fails.py"
    fails.write_text("def process(src, dst):\n    raise ValueError('bad file')\n")

    died = batchmill("run", "python", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--param",
                     f"script={dies}", "--dry-run", "--estimate", "sample")
    failed = batchmill("run", "python", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--param",
                       f"script={fails}", "--dry-run", "--estimate", "sample")

    assert died.returncode == 0 and "Traceback" not in died.stderr, died.stderr
    line = next(l for l in died.stdout.splitlines() if l.startswith("estimate:"))
    assert line == "estimate: none: the sample could not be timed (the worker running the sample died)", line
    assert failed.returncode == 0 and "Traceback" not in failed.stderr, failed.stderr
    line = next(l for l in failed.stdout.splitlines() if l.startswith("estimate:"))
    assert "sample-based: 3 files of this job timed" in line and line.endswith("(3 of the sample failed)"), line
