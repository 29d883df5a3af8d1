"""Containment as an operator sees it on the command line (issue 12): the journal failing mid-job
ends it with exit 2 and a message, never a traceback or a hang; a processor's prints never reach
stdout, so ``--json`` stays one object; a worker's children never outlive the job."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.timeout(180)

SCRIPTS = Path(__file__).resolve().parent / "scripts"


def batchmill_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "batchmill.gui.launcher", *args]


def limit_file_size(limit: int) -> None:
    """In the child: no file it writes may grow past ``limit`` bytes (SIGXFSZ is ignored by Python,
    so a write past it fails with EFBIG, as on a full disk)."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))


def test_the_journal_filling_up_during_the_scan_exits_2_with_a_message(tmp_path: Path,
                                                                        batchmill_home: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(4000):  # long names: the scan's journal rows outgrow the limit quickly
        (folder / f"{i:05d}-{'n' * 150}.txt").write_bytes(b"x")
    batchmill_home.mkdir()

    done = subprocess.run(batchmill_cmd("run", "checksum", str(folder), "--output", str(tmp_path / "out"),
                                        "--json", "--workers", "1"),
                          capture_output=True, text=True, timeout=120, preexec_fn=lambda: limit_file_size(300_000))

    assert done.returncode == 2, (done.returncode, done.stderr[-3000:])
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert f"the journal {batchmill_home / 'journal.sqlite3'} could not be read or written" in done.stderr, done.stderr[-3000:]
    data = json.loads(done.stdout)
    assert data["state"] == "error" and "journal" in data["error"]


# The CLI, killed (SIGKILL) inside the checksum manifest's write: after the temporary is written,
# before it is renamed into place. Only the main process runs this: workers never re-run it.
KILLED_IN_THE_FINAL_STEP = """
import os, signal, sys
def fsync(fd):
    os.kill(os.getpid(), signal.SIGKILL)
os.fsync = fsync
from batchmill.gui.launcher import main
sys.argv[0] = "batchmill"
sys.exit(main())
"""


def test_resume_removes_the_temporary_of_a_final_step_killed_midway(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(30):
        (folder / f"{i:02d}.txt").write_text(f"file {i}\n")
    out = tmp_path / "out"

    killed = subprocess.run([sys.executable, "-c", KILLED_IN_THE_FINAL_STEP, "run", "checksum", str(folder),
                             "--output", str(out), "--quiet"], capture_output=True, text=True, timeout=120)
    assert killed.returncode == -9, killed.stderr
    left = [p.name for p in (out / "in").iterdir()]
    assert len(left) == 1 and left[0].startswith(".SHA256SUMS.") and left[0].endswith(".bmpart"), left

    resumed = subprocess.run(batchmill_cmd("resume", "--quiet"), capture_output=True, text=True, timeout=120)

    assert resumed.returncode == 0, resumed.stderr
    assert sorted(p.name for p in (out / "in").iterdir()) == ["SHA256SUMS"]
    check = subprocess.run(["sha256sum", "-c", "--quiet", str(out / "in" / "SHA256SUMS")], cwd=folder,
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


# -- no orphans: kill -9 of the CLI, Ctrl-C --------------------------------------------------
ORPHAN_MAKER = '''
import os, re, subprocess, time
from pathlib import Path

def process(src: Path, dst: Path, marks: str) -> None:
    if src.name.startswith("regex"):  # busy in C code, holding the GIL, for far longer than any test
        Path(marks, src.name + ".worker").write_text(str(os.getpid()))
        re.match(r"(a+)+$", "a" * 64 + "b")
    elif src.name.startswith("sleep"):  # a program it starts, then waits on for ever
        child = subprocess.Popen(["sleep", "303"])
        Path(marks, src.name + ".child").write_text(str(child.pid))
        child.wait()
    dst.write_bytes(src.read_bytes())
'''


def pids_in(marks: Path, suffix: str) -> set[int]:
    return {int(p.read_text()) for p in marks.glob(f"*{suffix}")}


def wait_for_marks(marks: Path, count: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while len(list(marks.iterdir())) < count:
        assert time.monotonic() < deadline, list(marks.iterdir())
        time.sleep(0.05)


def alive(pids: set[int]) -> set[int]:
    found = set()
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                found.add(pid)
        except psutil.NoSuchProcess:
            pass
    return found


def gone_within(pids: set[int], seconds: float) -> set[int]:
    deadline = time.monotonic() + seconds
    while (left := alive(pids)) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in left:  # the test fails; leave nothing running either way
        psutil.Process(pid).kill()
    return left


@pytest.mark.parametrize("how", ["SIGKILL", "SIGINT", "SIGTERM"])
def test_nothing_a_job_started_outlives_its_cli(tmp_path: Path, how: str) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "regex.txt").write_text("r")
    (folder / "sleep.txt").write_text("s")
    marks = tmp_path / "marks"
    marks.mkdir()
    script = tmp_path / "orphans.py"
    script.write_text(ORPHAN_MAKER)
    cli = subprocess.Popen(batchmill_cmd("run", "python", str(folder), "--output", str(tmp_path / "out"),
                                         "--param", f"script={script}", "--param", f"marks={marks}",
                                         "--workers", "2", "--quiet"),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for_marks(marks, 2)
        workers = {p.pid for p in psutil.Process(cli.pid).children()}
        pids = pids_in(marks, ".worker") | pids_in(marks, ".child") | workers
        if how == "SIGKILL":
            cli.kill()
        elif how == "SIGTERM":  # never hangs, though a file runs on with no --timeout
            cli.send_signal(signal.SIGTERM)
        else:  # a terminal's Ctrl-C: SIGINT to the foreground process group
            os.killpg(cli.pid, signal.SIGINT)
        cli.wait(timeout=60)
    finally:
        if cli.poll() is None:
            cli.kill()

    assert gone_within(pids, 10.0) == set(), f"left running after {how} of the CLI"
    if how != "SIGKILL":
        assert cli.returncode == {"SIGINT": 130, "SIGTERM": 128 + signal.SIGTERM}[how]


NOISY = '''
import subprocess, sys
from pathlib import Path

def process(src: Path, dst: Path) -> None:
    print("chatter from", src.name)
    print("x" * 200_000)  # far more than a log line keeps
    print("complaint from", src.name, file=sys.stderr)
    subprocess.run(["echo", "a child speaks for", src.name], check=True)
    dst.write_bytes(src.read_bytes())
'''


def test_what_processors_print_never_reaches_stdout_so_json_stays_one_object(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.txt", "b.txt", "c.txt"):
        (folder / name).write_text(name)
    script = tmp_path / "noisy.py"
    script.write_text(NOISY)

    done = subprocess.run(batchmill_cmd("run", "python", str(folder), "--output", str(tmp_path / "out"),
                                        "--param", f"script={script}", "--json"),
                          capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stderr[-2000:]
    data = json.loads(done.stdout)  # one object, nothing else
    assert (data["done"], data["failed"]) == (3, 0)
    for name in ("a.txt", "b.txt", "c.txt"):
        assert f"{folder / name} printed:" in done.stderr
        assert f"a child speaks for {name}" in done.stderr
    assert "bytes before this not shown" in done.stderr
    assert len(done.stderr) < 100_000


def test_the_issues_240_byte_name_runs_and_resumes(tmp_path: Path) -> None:
    """The reproduction of issue 12 item 1, as it was given: the command processor on a file whose
    name is 244 bytes (its temporary name used to be 261)."""
    folder = tmp_path / "in"
    folder.mkdir()
    name = "x" * 240 + ".txt"
    (folder / name).write_text("x\n")
    (folder / "short.txt").write_text("y\n")

    done = subprocess.run(batchmill_cmd("run", "command", str(folder), "--output", str(tmp_path / "out"),
                                        "--param", "cmd=cp {input} {output}", "--json"),
                          capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["done"] == 2
    assert (tmp_path / "out" / "in" / name).read_text() == "x\n"
    assert sorted(p.name for p in (tmp_path / "out" / "in").iterdir()) == sorted([name, "short.txt"])
