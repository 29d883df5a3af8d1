"""The window on a real X server (Xvfb), not only offscreen; and where no window can open, a
message and exit status 2 that point at the command line, never Qt's abort (exit 134)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gui_helpers import make_files

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 and Wayland are Linux's")
BATCHMILL = [sys.executable, "-m", "batchmill.gui.launcher"]


def bare_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    return {**env, "BATCHMILL_HOME": str(home), **extra}


def test_no_display_says_so_and_points_at_the_cli(batchmill_home: Path) -> None:
    done = subprocess.run(BATCHMILL, env=bare_env(batchmill_home), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "there is no display here (DISPLAY is not set)" in done.stderr
    assert "batchmill run PROCESSOR INPUT... --output DIR" in done.stderr
    assert "Aborted" not in done.stderr and "qt.qpa" not in done.stderr


def test_a_display_that_does_not_answer_says_so(batchmill_home: Path) -> None:
    done = subprocess.run([*BATCHMILL, "gui"], env=bare_env(batchmill_home, DISPLAY=":237"), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "the window cannot open" in done.stderr and "batchmill run" in done.stderr
    assert "Aborted" not in done.stderr


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="xvfb-run: sh packaging/install-system-deps.sh --test")
def test_the_window_runs_a_job_on_a_real_x_server(tmp_path: Path, batchmill_home: Path) -> None:
    inputs = make_files(tmp_path / "IN", 12)
    out = tmp_path / "OUT"
    done = subprocess.run(["xvfb-run", "-a", *BATCHMILL, "gui", str(inputs), "--processor", "checksum",
                           "--output", str(out), "--start", "--exit-when-done"],
                          env=bare_env(batchmill_home, QT_DEBUG_PLUGINS="1"), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert 'platforms/libqxcb.so" loaded library' in done.stderr  # the X11 plugin, not offscreen
    check = subprocess.run(["sha256sum", "-c", "--quiet", str(out / "IN" / "SHA256SUMS")], cwd=inputs,
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
