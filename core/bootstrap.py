"""Called first by every entry point, before anything else runs.

- ``multiprocessing.freeze_support()`` (the module-level function): in a frozen
  Windows build a worker starts as the app's own executable; this turns it into
  a worker instead of a second copy of the app.
- frozen: ``set_executable(sys.executable)``, the bundle's own program, which
  PyInstaller's runtime hook knows how to run as a spawn child.
- embedded in a host program whose ``sys.executable`` is not Python (ArcGIS,
  QGIS): ``set_executable()`` to a real interpreter found from the running one.
- a guard: a worker process can never start a window, an engine or a pool.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from pathlib import Path

ROLE_ENV = "BATCHMILL_ROLE"


class BootstrapError(RuntimeError):
    pass


def bootstrap() -> None:
    multiprocessing.freeze_support()  # in a frozen worker this runs the worker and never returns
    if is_frozen():
        multiprocessing.set_executable(sys.executable)
    elif not _looks_like_python(Path(sys.executable)):
        interpreter = find_interpreter()
        if interpreter is None:
            raise BootstrapError(
                f"{sys.executable} is not a Python interpreter and none was found next to this Python "
                f"({sys.prefix}); worker processes cannot be started")
        multiprocessing.set_executable(str(interpreter))


def is_frozen() -> bool:
    return bool(getattr(sys, "frozen", False))


def refuse_in_worker(what: str) -> None:
    """Fail loudly if a worker (or any spawned helper) tries to start ``what``."""
    if os.environ.get(ROLE_ENV) == "worker" or multiprocessing.parent_process() is not None:
        raise BootstrapError(
            f"refusing to start {what} inside a worker process (pid {os.getpid()}); "
            "an entry point was run by a child process: check that bootstrap() is called first")


def workers_executable() -> str:
    """The program worker processes are started with (shown in About and selftest)."""
    from multiprocessing import spawn

    exe = spawn.get_executable()
    return os.fsdecode(exe) if isinstance(exe, bytes) else str(exe)


def _looks_like_python(path: Path) -> bool:
    name = path.name.lower()
    return name.startswith("python") or name.startswith("pypy")


def find_interpreter() -> Path | None:
    """A real Python interpreter for the running stdlib, for hosts that embed Python."""
    candidates = []
    for base in (sys.exec_prefix, sys.prefix, getattr(sys, "base_exec_prefix", sys.exec_prefix)):
        root = Path(base)
        if os.name == "nt":
            candidates += [root / "python.exe", root / "Scripts" / "python.exe"]
        else:
            version = f"python{sys.version_info.major}.{sys.version_info.minor}"
            candidates += [root / "bin" / version, root / "bin" / "python3", root / "bin" / "python"]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None
