"""Measure the time from launch to the Batchmill window shown and painted.

    python packaging/startup_time.py [-n 5] [COMMAND...]

COMMAND defaults to the ``batchmill`` next to this Python (unfrozen); for the
frozen bundle pass ``dist/batchmill/batchmill``. Each run gets
``BATCHMILL_STARTUP_PROBE`` set to ``time.time()`` right before the program is
started; the window prints ``window shown after X.XXX s`` when it has been shown
and painted, and quits. Runs offscreen (``QT_QPA_PLATFORM=offscreen`` unless
set) with a fresh, empty ``BATCHMILL_HOME`` each time, so no saved settings or
journal change the figure. Prints every run, then best and median.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROBE = "BATCHMILL_STARTUP_PROBE"
REPORT = re.compile(r"window shown after (\d+(?:\.\d+)?) s")
RUN_TIMEOUT_S = 120.0


def default_command() -> list[str]:
    return [str(Path(sys.executable).with_name("batchmill"))]


def measure_once(command: list[str]) -> float:
    """One launch; returns the seconds the window reported. Raises RuntimeError if it did not."""
    with tempfile.TemporaryDirectory(prefix="batchmill-startup-") as home:
        env = {**os.environ, "BATCHMILL_HOME": home}
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
        env[PROBE] = repr(time.time())  # as late as possible: the figure starts at the launch itself
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    match = REPORT.search(done.stdout)
    if done.returncode != 0 or match is None:
        raise RuntimeError(f"{' '.join(command)} exited with {done.returncode} without reporting its start-up "
                           f"time\nstdout: {done.stdout[-2000:]}\nstderr: {done.stderr[-2000:]}")
    return float(match.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--runs", type=int, default=5, help="launches to measure (default 5)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the program to launch (default: batchmill)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    command = args.command or default_command()
    print(f"launch to window shown: {' '.join(command)}  ({args.runs} runs)")
    times = []
    for run in range(1, args.runs + 1):
        try:
            seconds = measure_once(command)
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
            print(f"run {run}: failed: {exc}", file=sys.stderr)
            return 1
        times.append(seconds)
        print(f"run {run}: {seconds:.3f} s")
    print(f"best {min(times):.3f} s · median {statistics.median(times):.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
