"""``batchmill run`` killed part-way (SIGKILL, Ctrl-C), then ``batchmill resume``: nothing is lost.

Every test drives the real program in subprocesses that share the test's
BATCHMILL_HOME (set by the autouse fixture; passed on with ``env=os.environ``),
with real spawn workers, real files and the real SQLite journal, which the tests
also read directly.
"""

from __future__ import annotations

import json
import os
import runpy
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psutil
import pytest

from batchmill.core.outputs import is_tmp_name, tmp_path_for

SCRIPT = Path(__file__).parent / "scripts" / "journal_slow_copy.py"
FILE_COUNT = 300
DELAY_S = 0.025  # per file; 300 files on 2 workers take ~4 s, long enough to stop part-way
PROGRESS_BEFORE_STOP = 40  # files recorded done in the journal before the run is stopped
WORKERS_GONE_S = 10.0
RUN_TIMEOUT_S = 60.0

transform = runpy.run_path(str(SCRIPT))["transform"]


def batchmill_command() -> list[str]:
    console_script = Path(sys.executable).with_name("batchmill")
    if console_script.exists():
        return [str(console_script)]
    return [sys.executable, "-m", "batchmill.gui.launcher"]


def make_inputs(folder: Path, count: int) -> dict[str, bytes]:
    folder.mkdir(parents=True)
    contents = {}
    for n in range(count):
        data = f"file {n:04d}\n".encode() * (1 + n % 7)
        (folder / f"f{n:04d}.txt").write_bytes(data)
        contents[f"f{n:04d}.txt"] = data
    return contents


def start_run(inputs: Path, output: Path, calls: Path, delay: float = DELAY_S) -> subprocess.Popen[str]:
    command = batchmill_command() + [
        "run", "python", str(inputs), "--output", str(output), "--workers", "2",
        "--param", f"script={SCRIPT}", "--param", f"delay={delay}", "--param", f"calls={calls}"]
    return subprocess.Popen(command, env=os.environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run_batchmill(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(batchmill_command() + list(args), env=os.environ, capture_output=True, text=True,
                          timeout=RUN_TIMEOUT_S)


def journal_path() -> Path:
    return Path(os.environ["BATCHMILL_HOME"]) / "journal.sqlite3"


def query(sql: str, args: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Read the journal directly, as another program would (WAL: never blocks the writer)."""
    db = sqlite3.connect(journal_path(), timeout=30)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def done_in_journal() -> int:
    if not journal_path().exists():
        return 0
    try:
        return int(query("SELECT count(*) FROM files WHERE state = 'done'")[0][0])
    except sqlite3.OperationalError:
        return 0  # the schema is still being created


def planned_so_far() -> list[tuple[object, ...]]:
    """[(job state, files journaled)], or [] while the journal or its schema is not there yet."""
    if not journal_path().exists():
        return []
    try:
        return query("SELECT state, (SELECT count(*) FROM files) FROM jobs")
    except sqlite3.OperationalError:
        return []


def wait_for_progress(proc: subprocess.Popen[str], minimum: int, timeout: float = RUN_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while done_in_journal() < minimum:
        if proc.poll() is not None:
            _, err = proc.communicate()
            pytest.fail(f"batchmill run ended (exit {proc.returncode}) before it was stopped:\n{err}")
        if time.monotonic() > deadline:
            proc.kill()
            proc.communicate()
            pytest.fail(f"no {minimum} files recorded done within {timeout} s")
        time.sleep(0.05)


def descendants(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


def assert_all_gone(processes: list[psutil.Process], timeout: float = WORKERS_GONE_S) -> None:
    """Workers watch their parent and exit when it dies; a zombie has exited (only reaping is left)."""
    deadline = time.monotonic() + timeout
    while True:
        alive = [p for p in processes if _is_alive(p)]
        if not alive:
            return
        if time.monotonic() > deadline:
            names = [f"{p.pid}: {' '.join(p.cmdline())[:100]}" for p in alive]
            for p in alive:
                p.kill()
            pytest.fail(f"processes of the stopped run still alive after {timeout} s: {names}")
        time.sleep(0.05)


def _is_alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def only_job_id() -> str:
    rows = query("SELECT id FROM jobs")
    assert len(rows) == 1, rows
    return str(rows[0][0])


def done_inputs(job_id: str) -> set[str]:
    rows = query("SELECT input FROM files WHERE job_id = ? AND state = 'done'", (job_id,))
    return {Path(str(r[0])).name for r in rows}


def read_calls(calls: Path) -> Counter[str]:
    return Counter(calls.read_text().split())


def assert_outputs_complete(contents: dict[str, bytes], out_folder: Path) -> None:
    every_name = sorted(p.relative_to(out_folder).as_posix() for p in out_folder.rglob("*"))
    leftovers = [n for n in every_name if is_tmp_name(Path(n).name) or n.endswith(".bmpart")]
    assert leftovers == [], f"temporary files left behind: {leftovers}"
    assert every_name == sorted(contents), "outputs are not exactly one per input"
    wrong = [name for name, data in contents.items() if (out_folder / name).read_bytes() != transform(data)]
    assert wrong == [], f"outputs differ from an uninterrupted run: {wrong[:10]}"


def assert_journal_all_done(job_id: str, count: int) -> None:
    assert query("SELECT state, count(*) FROM files WHERE job_id = ? GROUP BY state", (job_id,)) == [("done", count)]
    assert query("SELECT count(*), count(DISTINCT input) FROM files WHERE job_id = ?", (job_id,)) == [(count, count)]
    assert query("SELECT state, total, done, failed, skipped FROM jobs WHERE id = ?", (job_id,)) == [
        ("completed", count, count, 0, 0)]


def assert_resumed_report(result: subprocess.CompletedProcess[str], job_id: str, count: int) -> None:
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["job_id"], report["state"], report["total"], report["done"], report["failed"]) == (
        job_id, "completed", count, count, 0)
    assert "Traceback" not in result.stderr


def test_sigkill_part_way_then_resume_completes_exactly(tmp_path: Path) -> None:
    contents = make_inputs(tmp_path / "in", FILE_COUNT)
    out_folder = tmp_path / "out" / "in"
    calls = tmp_path / "calls.log"
    proc = start_run(tmp_path / "in", tmp_path / "out", calls)
    wait_for_progress(proc, PROGRESS_BEFORE_STOP)
    workers = descendants(proc.pid)
    assert len(workers) >= 2, "the run should have its two workers by now"

    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=RUN_TIMEOUT_S)
    assert proc.returncode == -signal.SIGKILL
    assert_all_gone(workers)

    job_id = only_job_id()
    recorded_done = done_inputs(job_id)
    assert PROGRESS_BEFORE_STOP <= len(recorded_done) < FILE_COUNT
    jobs = json.loads(run_batchmill("jobs", "--json").stdout)
    assert [(j["job_id"], j["state"]) for j in jobs] == [(job_id, "interrupted")]

    result = run_batchmill("resume", job_id, "--json")

    assert_resumed_report(result, job_id, FILE_COUNT)
    assert f"({len(recorded_done)} already done)" in result.stderr
    assert_outputs_complete(contents, out_folder)
    assert_journal_all_done(job_id, FILE_COUNT)
    ran = read_calls(calls)
    assert set(ran) == set(contents)
    assert {name: ran[name] for name in recorded_done} == {name: 1 for name in recorded_done}, \
        "a file recorded done was run again by resume"


def test_ctrl_c_exits_130_and_resume_without_id_completes(tmp_path: Path) -> None:
    contents = make_inputs(tmp_path / "in", FILE_COUNT)
    out_folder = tmp_path / "out" / "in"
    calls = tmp_path / "calls.log"
    proc = start_run(tmp_path / "in", tmp_path / "out", calls)
    wait_for_progress(proc, PROGRESS_BEFORE_STOP)
    workers = descendants(proc.pid)

    proc.send_signal(signal.SIGINT)  # once: a second Ctrl-C must not be needed
    _, err = proc.communicate(timeout=RUN_TIMEOUT_S)

    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "continue it with: batchmill resume" in err
    assert_all_gone(workers)
    job_id = only_job_id()
    assert query("SELECT state FROM jobs") == [("interrupted",)]
    recorded_done = done_inputs(job_id)
    assert len(recorded_done) < FILE_COUNT
    leftovers = [p.name for p in out_folder.iterdir() if is_tmp_name(p.name)]
    assert leftovers == [], "Ctrl-C should remove the temporary outputs of the files it stopped"

    result = run_batchmill("resume", "--json")

    assert_resumed_report(result, job_id, FILE_COUNT)
    assert_outputs_complete(contents, out_folder)
    assert_journal_all_done(job_id, FILE_COUNT)
    ran = read_calls(calls)
    assert {name: ran[name] for name in recorded_done} == {name: 1 for name in recorded_done}


def test_resume_never_trusts_an_output_not_recorded_done(tmp_path: Path) -> None:
    contents = make_inputs(tmp_path / "in", 12)
    out_folder = tmp_path / "out" / "in"
    calls = tmp_path / "calls.log"
    first = start_run(tmp_path / "in", tmp_path / "out", calls, delay=0.0)
    first.communicate(timeout=RUN_TIMEOUT_S)
    assert first.returncode == 0
    job_id = only_job_id()
    # Make it look like a run that died with three files unfinished: their outputs exist but are
    # wrong (a stale earlier version), and half-written temporary files lie next to them.
    untrusted = ["f0002.txt", "f0005.txt", "f0011.txt"]
    db = sqlite3.connect(journal_path(), timeout=30)
    with db:
        # A file's latest record in the journal's log is its state: "reset" makes these pending again.
        idx = [row[0] for name in untrusted for row in db.execute(
            "SELECT idx FROM files WHERE job_id = ? AND input = ?", (job_id, str(tmp_path / "in" / name)))]
        db.execute("INSERT INTO file_records (job_id, kind, data) VALUES (?, 'reset', ?)",
                   (job_id, json.dumps([[i] for i in idx])))
        db.execute("UPDATE jobs SET state = 'running' WHERE id = ?", (job_id,))
    db.close()
    assert len(idx) == len(untrusted)
    planted_tmps = []
    for name in untrusted:
        (out_folder / name).write_bytes(b"stale output that was never recorded done")
        tmp = tmp_path_for(out_folder / name, job_id)
        tmp.write_bytes(b"half of it")
        planted_tmps.append(tmp)
    calls.unlink()

    result = run_batchmill("resume", job_id, "--json")

    assert_resumed_report(result, job_id, 12)
    assert [t for t in planted_tmps if t.exists()] == []
    assert_outputs_complete(contents, out_folder)
    assert read_calls(calls) == Counter(untrusted), "resume must run exactly the files not recorded done"
    assert_journal_all_done(job_id, 12)


def test_sigkill_while_the_scan_still_runs_then_resume_does_every_file(tmp_path: Path) -> None:
    # Files start once the first scan step (at most PLAN_CHUNK files) is journaled; the scan goes on.
    folders, per_folder = 8, 1500
    for d in range(folders):
        folder = tmp_path / "in" / f"d{d}"
        folder.mkdir(parents=True)
        for n in range(per_folder):
            (folder / f"{n:04d}.txt").write_bytes(b"%d\n" % n)
    total = folders * per_folder
    proc = start_run(tmp_path / "in", tmp_path / "out", tmp_path / "calls.log", delay=0.0)
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while True:
        rows = planned_so_far()
        if rows and rows[0][0] == "running" and 0 < int(rows[0][1]) < total:
            proc.send_signal(signal.SIGKILL)
            break
        if proc.poll() is not None or (rows and int(rows[0][1]) == total) or time.monotonic() > deadline:
            proc.kill()
            proc.communicate()
            pytest.skip("the scan ended before the run could be stopped in the middle of it")
        time.sleep(0.002)
    proc.communicate(timeout=RUN_TIMEOUT_S)
    job_id = only_job_id()
    time.sleep(1.0)  # let the orphaned workers notice and exit

    result = run_batchmill("resume", job_id, "--json")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["total"] == total
    assert sum(1 for p in (tmp_path / "out" / "in").rglob("*.txt") if not is_tmp_name(p.name)) == total
