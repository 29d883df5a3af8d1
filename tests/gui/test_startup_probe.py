"""Start-up timing: with BATCHMILL_STARTUP_PROBE set, the window reports the time from launch to its
first painted frame and quits with status 0; packaging/startup_time.py measures that repeatedly."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from batchmill.gui.startup_probe import STARTUP_PROBE

REPO = Path(__file__).resolve().parents[2]


def batchmill() -> list[str]:
    script = Path(sys.executable).with_name("batchmill")
    return [str(script)] if script.exists() else [sys.executable, "-m", "batchmill.gui.launcher"]


def test_the_window_reports_its_start_up_time_and_quits(batchmill_home: Path) -> None:
    launched = time.time()
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", STARTUP_PROBE: repr(launched)}
    done = subprocess.run(batchmill(), env=env, capture_output=True, text=True, timeout=120)
    whole = time.time() - launched

    assert done.returncode == 0, done.stderr
    match = re.fullmatch(r"window shown after (\d+\.\d{3}) s\n", done.stdout)
    assert match is not None, done.stdout
    assert 0 < float(match.group(1)) < whole  # shown before the process ended, and after it began


def test_startup_time_script_prints_each_run_then_best_and_median() -> None:
    done = subprocess.run([sys.executable, str(REPO / "packaging" / "startup_time.py"), "-n", "2", *batchmill()],
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [re.fullmatch(r"run \d: \d+\.\d{3} s", line) is not None for line in lines[1:3]] == [True, True]
    assert re.fullmatch(r"best \d+\.\d{3} s · median \d+\.\d{3} s", lines[3]), lines
