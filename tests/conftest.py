"""Fixtures shared by every layer: a private BATCHMILL_HOME, and a leak check that fails
any test leaving a worker process or an engine thread behind."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

LEAK_GRACE_S = 5.0


def _batchmill_children() -> list[psutil.Process]:
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            cmdline = " ".join(child.cmdline())
        except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            continue
        if "resource_tracker" in cmdline:
            continue  # one per test process, started by the first spawn; not a leak
        found.append(child)
    return found


@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    before = {p.pid for p in _batchmill_children()}
    yield
    deadline = time.monotonic() + LEAK_GRACE_S
    while True:
        leaked = [p for p in _batchmill_children() if p.pid not in before and p.is_running()
                  and p.status() != psutil.STATUS_ZOMBIE]
        threads = [t for t in threading.enumerate() if t.name == "batchmill-engine"]
        if not leaked and not threads:
            return
        if time.monotonic() > deadline:
            for p in leaked:
                p.kill()
            names = [f"{p.pid}: {' '.join(p.cmdline())[:120]}" for p in leaked]
            pytest.fail(f"test left behind processes {names} and engine threads {threads}")
        time.sleep(0.05)


@pytest.fixture(autouse=True)
def batchmill_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "batchmill-home"
    monkeypatch.setenv("BATCHMILL_HOME", str(home))
    return home
