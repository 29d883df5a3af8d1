"""Is the process that owns a job (or a scratch folder) still alive? The same answer on every platform.

``os.kill(pid, 0)`` is no test on Windows: signal 0 there is CTRL_C_EVENT, so a live owner could
read as dead, its running job shown as interrupted and its scratch folder removed by another
Batchmill. psutil asks the system instead. And a process id is reused once its process has
gone: the journal records the owner's start time beside its pid, and a process with that pid
but another start time is someone else, so the owner is dead.
"""

from __future__ import annotations

import os

import psutil

# psutil's start times are exact to the clock tick on Linux and to ~1 µs elsewhere, and the same
# for every reader; the slack only absorbs a recorded time rounded to whole seconds (a scratch
# folder's name). A pid reused within one second of its first start is not a concern.
START_SLACK_S = 1.0


def start_time(pid: int | None = None) -> float | None:
    """When the process ``pid`` (default: this one) started, in seconds since the epoch; None if unknown."""
    try:
        return float(psutil.Process(os.getpid() if pid is None else pid).create_time())
    except (psutil.Error, OSError):
        return None


def pid_alive(pid: int, started: float | None = None) -> bool:
    """True when process ``pid`` runs (not a zombie) and, when ``started`` is known, is the
    process that started then rather than a later one given the same pid."""
    if pid == os.getpid():
        return started is None or _same_start(start_time(), started)
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        created = process.create_time()
    except psutil.NoSuchProcess:  # ZombieProcess is one
        return False
    except psutil.AccessDenied:  # it exists; another user's process, whose start time is hidden
        return True
    return started is None or _same_start(created, started)


def _same_start(created: float | None, started: float) -> bool:
    return created is None or abs(created - started) <= START_SLACK_S


def scratch_prefix() -> str:
    """How a scratch folder's name begins: ``PID-START-`` (this process's pid and start time)."""
    started = start_time()
    return f"{os.getpid()}-{started:.0f}-" if started is not None else f"{os.getpid()}-"


def scratch_owner(name: str) -> tuple[int | None, float | None]:
    """The pid and start time a scratch folder's name records (``PID-START-random``; before 0.3,
    ``PID-random``, with no start time)."""
    parts = name.split("-")
    if not parts[0].isdigit():
        return None, None
    started = float(parts[1]) if len(parts) > 2 and parts[1].isdigit() else None
    return int(parts[0]), started
