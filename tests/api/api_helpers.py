"""Helpers for the Python API's tests: what a folder holds, the processes a test started, scripts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil

RUN_TIMEOUT_S = 120


def texts(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()}


def started_processes() -> set[int]:
    """Children of this process other than multiprocessing's resource tracker."""
    found = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if "resource_tracker" not in " ".join(child.cmdline()):
                found.add(child.pid)
        except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            continue
    return found


def run_script(script: Path, cwd: Path, env: dict[str, str] | None = None,
               args: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """A user's script run with this test's Python, from its own folder (as ``python tool.py``)."""
    return subprocess.run([sys.executable, str(script), *args], cwd=cwd, env=env or dict(os.environ),
                          capture_output=True, text=True, timeout=RUN_TIMEOUT_S)


def batchmill_cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "batchmill", *args], cwd=cwd, env=env or dict(os.environ),
                          capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
