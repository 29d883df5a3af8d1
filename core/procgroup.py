"""No orphans: each worker and everything it starts live in a process group of their own.

  engine process ──spawn──▶ worker (setpgid: its own group)  ──▶ programs a processor starts
       │                       └ PR_SET_PDEATHSIG(SIGKILL)        (same group: killpg reaches them)
       └──pipe──▶ guardian (its own group): on EOF — the engine is gone, however it went —
                  killpg(SIGKILL) every group it was told of

Why a group: a worker killed for a timeout or a cancel, or one that exits when its job is
done, left behind every program its processor had started (a `sleep 303` outlived all four).
The engine now kills the worker's whole group on timeout, cancel, completion and shutdown.

Why the parent-death signal and the guardian: when the engine itself is killed (kill -9 of the
CLI) nobody is left to kill anything. A worker's own thread that watches its parent cannot run
while the processor is busy in C code holding the GIL (a catastrophic regex ran on for 30 s+),
so on Linux the kernel kills the worker (PR_SET_PDEATHSIG); everywhere, a tiny guardian process
reads a pipe from the engine and, when it closes, kills every worker group, the programs the
workers started included.

Why a handler for SIGINT instead of SIG_IGN: an ignored signal stays ignored across exec, so
every program a worker started could not be interrupted; a handler is reset to the default.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from typing import Any

PR_SET_PDEATHSIG = 1
POSIX_GROUPS = hasattr(os, "killpg") and hasattr(os, "setpgid")

# The guardian's whole program (python -I -S: no site, nothing of the user's): "+PGID" / "-PGID"
# lines on stdin; when stdin closes, every group still listed is killed.
GUARDIAN_SOURCE = """
import os, signal, sys
for name in ("SIGINT", "SIGHUP", "SIGTSTP"):
    signal.signal(getattr(signal, name), signal.SIG_IGN)
os.setpgid(0, 0)
groups = set()
for line in sys.stdin.buffer:
    sign, pgid = line[:1], int(line[1:])
    (groups.add if sign == b"+" else groups.discard)(pgid)
for pgid in groups:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass
"""


def _interrupt_ignored(signum: int, frame: Any) -> None:
    """Ctrl-C is the engine's to handle; the worker goes on (see the module's docstring)."""


def isolate_worker() -> None:
    """First thing in a worker: its own process group, death with its parent, SIGINT handled.
    The parent is the process that started it: the engine's (spawn), or the forkserver, whose
    death the guardian covers."""
    parent_pid = os.getppid() if POSIX_GROUPS else None
    signal.signal(signal.SIGINT, _interrupt_ignored)
    if not POSIX_GROUPS:
        return
    try:
        os.setpgid(0, 0)
    except OSError:  # already a group leader (a session of its own): nothing to do
        pass
    if sys.platform.startswith("linux"):
        _die_with_parent(parent_pid)


def _die_with_parent(parent_pid: int | None) -> None:
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # no prctl: the guardian alone covers it
        return
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(70)  # the parent died before the signal was asked for


def kill_group(pid: int | None) -> None:
    """SIGKILL the process group a worker leads: the programs its processor started.
    Nothing when it never made one (it died first) or when every member is gone."""
    if pid is None or not POSIX_GROUPS:
        return
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class Guardian:
    """The engine's side of the guardian process: tells it each worker group to watch. The
    guardian runs for as long as a pool does; one per pool (see WorkerPool)."""

    def __init__(self, context: Any) -> None:
        self._context = context
        self._lock = threading.Lock()
        self._popen: subprocess.Popen[bytes] | None = None
        self._process: Any = None
        self._conn: Any = None
        self._failed = not POSIX_GROUPS

    def watch(self, pgid: int) -> None:
        self._tell(b"+%d\n" % pgid, start=True)

    def unwatch(self, pgid: int) -> None:
        self._tell(b"-%d\n" % pgid, start=False)

    def _tell(self, line: bytes, start: bool) -> None:
        with self._lock:
            if self._failed:
                return
            try:
                if self._popen is None and self._process is None:
                    if not start:  # nothing watched: nothing to take back
                        return
                    self._start()
                if self._popen is not None:
                    assert self._popen.stdin is not None
                    self._popen.stdin.write(line)
                    self._popen.stdin.flush()
                else:
                    self._conn.send_bytes(line)
            except (OSError, ValueError):  # it died: the parent-death signal still covers Linux
                self._failed = True

    def _start(self) -> None:
        if getattr(sys, "frozen", False):  # no interpreter to run -c: a spawn child of the bundle
            reader, self._conn = self._context.Pipe(duplex=False)
            self._process = self._context.Process(target=guard_from_connection, args=(reader,),
                                                  name="batchmill-guardian", daemon=True)
            self._process.start()
            reader.close()
            return
        from multiprocessing import spawn

        self._popen = subprocess.Popen([spawn.get_executable(), "-I", "-S", "-c", GUARDIAN_SOURCE],
                                       stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, close_fds=True)

    def close(self) -> None:
        """The pool is shut down: the guardian kills what is left (nothing, normally) and exits."""
        with self._lock:
            popen, process, conn = self._popen, self._process, self._conn
            self._popen = self._process = self._conn = None
        if popen is not None:
            assert popen.stdin is not None
            try:
                popen.stdin.close()
            except OSError:
                pass
            popen.wait(10)
        if process is not None:
            conn.close()
            process.join(10)


def guard_from_connection(conn: Any) -> None:
    """The guardian of a frozen bundle: the same protocol as GUARDIAN_SOURCE, over a Connection."""
    for name in ("SIGINT", "SIGHUP", "SIGTSTP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    if POSIX_GROUPS:
        os.setpgid(0, 0)
    groups: set[int] = set()
    while True:
        try:
            line = conn.recv_bytes()
        except (EOFError, OSError):
            break
        (groups.add if line[:1] == b"+" else groups.discard)(int(line[1:]))
    for pgid in groups:
        kill_group(pgid)
