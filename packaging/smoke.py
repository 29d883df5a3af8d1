"""Run a frozen Batchmill and watch the process table while it works.

    python packaging/smoke.py dist/batchmill/batchmill run checksum IN --output OUT

Every ~20 ms it counts the processes running the bundle's executable; it
reports the most seen at once and any left after the command exits. Used by
tests/packaging to prove "workers + 2 at most, none left behind"."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

SAMPLE_EVERY_S = 0.02


@dataclass
class Watched:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    max_processes: int
    pids_seen: set[int] = field(default_factory=set)
    left_behind: list[str] = field(default_factory=list)


def bundle_processes(executable: Path) -> list[psutil.Process]:
    target = str(executable.resolve())
    found = []
    for proc in psutil.process_iter(["exe", "cmdline", "status"]):
        try:
            if proc.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            exe = proc.info["exe"] or ""
            cmd0 = (proc.info["cmdline"] or [""])[0]
            if exe == target or os.path.realpath(cmd0) == target:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def run_watched(argv: Sequence[str], env: dict[str, str] | None = None, timeout: float = 300.0,
                settle_s: float = 5.0) -> Watched:
    """Run ``argv`` (argv[0] is the frozen executable), sampling how many copies of it run."""
    executable = Path(argv[0])
    peak = 0
    seen: set[int] = set()
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            procs = bundle_processes(executable)
            seen.update(p.pid for p in procs)
            peak = max(peak, len(procs))
            time.sleep(SAMPLE_EVERY_S)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    try:
        done = subprocess.run(list(argv), env=env, capture_output=True, text=True, timeout=timeout)
    finally:
        seconds = time.perf_counter() - start
        stop.set()
        sampler.join()
    deadline = time.monotonic() + settle_s
    left = bundle_processes(executable)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = bundle_processes(executable)
    described = [f"{p.pid}: {' '.join(p.cmdline())[:160]}" for p in left]
    for proc in left:
        proc.kill()
    return Watched(done.returncode, done.stdout, done.stderr, seconds, peak, seen, described)


def main(argv: Sequence[str]) -> int:
    watched = run_watched(argv)
    sys.stdout.write(watched.stdout)
    sys.stderr.write(watched.stderr)
    print(f"exit {watched.returncode} in {watched.seconds:.1f} s; at most {watched.max_processes} bundle "
          f"processes at once; left behind: {watched.left_behind or 'none'}", file=sys.stderr)
    return watched.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
