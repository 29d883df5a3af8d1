"""Fault injection (issue 12): 200 small jobs on the command line, with files that crash their
worker, hang past the timeout, return a result over the cap or one JSON cannot hold, carry names
at the file-name limit or start programs they never wait for — placed at random — and CLIs (and
resumes) killed with SIGKILL at random moments, each followed by ``batchmill resume``.

Every job must end (completed, exit 0 or 1), every good file's output must be right and every bad
one's absent, no temporary may be left, and no process either (workers, the programs they started).
The counts are printed. Marked slow; it runs in CI with the rest (the README's test command), in a
few minutes: three jobs run at a time, and the seed is printed (BATCHMILL_FAULT_SEED replays one).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

JOBS = int(os.environ.get("BATCHMILL_FAULT_JOBS", "200"))  # fewer, by hand, for a quick look
PARALLEL = 3
KILL_SHARE = 0.3  # of jobs whose CLI is killed at a random moment (and then perhaps their resume too)
TIMEOUT_S = "1"

FAULTS = '''
import os, signal, subprocess, time
from pathlib import Path

def transform(data: bytes) -> bytes:
    return b"ok:" + data[::-1]

def process(src: Path, dst: Path, marks: str) -> object:
    kind = src.name.split("-", 1)[0]
    Path(marks, f"worker-{os.getpid()}").touch()
    if kind == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    if kind == "exit":
        os._exit(3)
    if kind == "hang":
        time.sleep(60)
    if kind == "huge":
        dst.write_bytes(b"must not stay")
        return "x" * (3 << 20)
    if kind == "tuplekey":
        dst.write_bytes(b"must not stay")
        return {(1, 2): "a"}
    if kind == "child":
        child = subprocess.Popen(["sleep", "303"])
        Path(marks, f"child-{child.pid}").touch()
    time.sleep(0.15)  # long enough for a kill to land mid-job now and then
    dst.write_bytes(transform(src.read_bytes()))
    return {"size": src.stat().st_size}
'''

BAD_KINDS = ("crash", "exit", "hang", "huge", "tuplekey")
GOOD_KINDS = ("good", "long", "child")


@dataclass
class Job:
    number: int
    folder: Path
    out: Path
    files: dict[str, str]  # name -> kind
    killed: int = 0
    resumes: int = 0
    outcome: dict[str, object] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    unlisted: int = 0
    history: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"fault-{self.number:03d}"


def make_job(rng: random.Random, root: Path, number: int) -> Job:
    folder = root / f"in-{number:03d}"
    folder.mkdir(parents=True)
    files: dict[str, str] = {}
    for i in range(rng.randint(3, 6)):
        kind = rng.choice(GOOD_KINDS * 3 + BAD_KINDS) if i else "good"
        name = f"{kind}-{i}-" + ("n" * 230 if kind == "long" else "") + ".txt"
        (folder / name).write_bytes(f"{number}:{i}:{kind}".encode() * rng.randint(1, 50))
        files[name] = kind
    return Job(number, folder, root / f"out-{number:03d}", files)


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "batchmill.gui.launcher", *args]


def job_id_named(name: str) -> str | None:
    listed = subprocess.run(cli("jobs", "--json", "--limit", "1000"), capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    ids = [j["job_id"] for j in json.loads(listed.stdout) if j["name"] == name]
    return ids[0] if ids else None


def journal_rows_named(name: str) -> list[tuple[object, ...]]:
    """The journal's own rows for a job name, read directly (to tell a missing job from a missed one)."""
    import sqlite3

    path = Path(os.environ["BATCHMILL_HOME"]) / "journal.sqlite3"
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        return db.execute("SELECT id, state, done, total FROM jobs WHERE name = ?", (name,)).fetchall()
    finally:
        db.close()


def run_maybe_killed(command: list[str], kill_after: float | None) -> tuple[int, str]:
    """Run a CLI to its end, or SIGKILL it after ``kill_after`` seconds; (exit status, stdout)."""
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        out, _ = proc.communicate(timeout=kill_after if kill_after is not None else 300)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate(timeout=60)
    return proc.returncode, out


def drive(job: Job, rng: random.Random, script: Path, marks: Path) -> None:
    run = cli("run", "python", str(job.folder), "--output", str(job.out), "--param", f"script={script}",
              "--param", f"marks={marks}", "--timeout", TIMEOUT_S, "--workers", "2", "--json", "--quiet",
              "--job-name", job.name)
    kill_after = rng.uniform(0.3, 1.0) if rng.random() < KILL_SHARE else None
    code, out = run_maybe_killed(run, kill_after)
    job.history.append(f"run (kill after {kill_after}): {code}")
    while code == -9:
        job.killed += 1
        job_id = job_id_named(job.name)
        if job_id is None:  # killed before the job was journaled (or `jobs` did not list it): run it again
            made = sorted(p.name[:12] for p in job.out.rglob("*") if p.is_file()) if job.out.exists() else []
            rows = journal_rows_named(job.name)
            if made or rows:  # the usual case is neither: killed while it started up
                job.notes.append(f"killed after {kill_after:.2f} s, not listed by jobs; outputs then: {made}; "
                                 f"journal rows: {rows}")
            job.unlisted += 1
            code, out = run_maybe_killed(run, None)
            job.history.append(f"run again: {code}")
            continue
        job.resumes += 1
        again = rng.uniform(0.3, 0.8) if job.resumes < 3 and rng.random() < KILL_SHARE else None
        code, out = run_maybe_killed(cli("resume", job_id, "--json", "--quiet"), again)
        job.history.append(f"resume (kill after {again}): {code}")
    assert code in (0, 1), (job.name, code, out)
    job.outcome = json.loads(out)


def transform(data: bytes) -> bytes:
    return b"ok:" + data[::-1]


def check(job: Job) -> Counter[str]:
    outcome = job.outcome
    assert outcome["state"] == "completed", (job.name, outcome)
    bad = {name for name, kind in job.files.items() if kind in BAD_KINDS}
    # A file whose output a killed run (or session) had already made may count as skipped (its
    # output existed when it was planned): its output is checked below like any other.
    finished = (outcome["done"] + outcome["skipped"], outcome["failed"])
    assert finished == (len(job.files) - len(bad), len(bad)), (job.name, job.history, job.notes, outcome)
    if outcome["skipped"]:
        job.notes.append(f"{outcome['skipped']} skipped after {job.history}")
    out = job.out / job.folder.name
    for name, kind in job.files.items():
        dst = out / name
        if name in bad:
            assert not dst.exists(), (job.name, name)
        else:
            assert dst.read_bytes() == transform((job.folder / name).read_bytes()), (job.name, name)
    left = [p.name for p in job.out.rglob("*") if p.name.endswith(".bmpart")]
    assert left == [], (job.name, left)
    return Counter(job.files.values())


def pids_in(marks: Path, prefix: str) -> set[int]:
    return {int(p.name.split("-", 1)[1]) for p in marks.glob(f"{prefix}-*")}


def still_running(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.add(pid)
        except psutil.NoSuchProcess:
            pass
    return alive


def test_two_hundred_jobs_with_faults_and_kills_all_end_right(tmp_path: Path) -> None:
    seed = int(os.environ.get("BATCHMILL_FAULT_SEED", time.time_ns() % 2**32))
    print(f"\nfault injection: seed {seed} (BATCHMILL_FAULT_SEED={seed} replays it)")
    rng = random.Random(seed)
    script = tmp_path / "faults.py"
    script.write_text(FAULTS)
    marks = tmp_path / "marks"
    marks.mkdir()
    jobs = [make_job(rng, tmp_path, n) for n in range(JOBS)]
    seeds = [rng.randrange(2**32) for _ in jobs]
    errors: list[BaseException] = []
    started = time.monotonic()

    def worker(mine: list[int]) -> None:
        for n in mine:
            try:
                drive(jobs[n], random.Random(seeds[n]), script, marks)
            except BaseException as exc:  # noqa: BLE001 - reported by the test thread
                errors.append(exc)
                return

    threads = [threading.Thread(target=worker, args=(list(range(k, JOBS, PARALLEL)),)) for k in range(PARALLEL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]

    kinds: Counter[str] = Counter()
    for job in jobs:
        kinds += check(job)
    workers, children = pids_in(marks, "worker"), pids_in(marks, "child")
    deadline = time.monotonic() + 10
    while (left := still_running(workers | children)) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in left:
        psutil.Process(pid).kill()
    elapsed = time.monotonic() - started
    for job in jobs:
        for note in job.notes:
            print(f"fault injection: {job.name}: {note}")
    print(f"fault injection: {JOBS} jobs, {sum(kinds.values())} files ({dict(sorted(kinds.items()))}), "
          f"{sum(j.killed for j in jobs)} CLIs killed with SIGKILL, {sum(j.resumes for j in jobs)} resumes, "
          f"{sum(j.unlisted for j in jobs)} killed before their job was listed, "
          f"{len(workers)} worker processes and {len(children)} programs they started, none left; {elapsed:.0f} s")
    assert left == set(), f"{len(left)} processes outlived their jobs"
    assert sum(j.resumes for j in jobs) >= JOBS * KILL_SHARE / 4  # kills did land mid-job
