"""Called first by every entry point (and by ``batchmill.run``/``submit``), before anything else runs.

- ``multiprocessing.freeze_support()`` (the module-level function): in a frozen
  Windows build a worker starts as the app's own executable; this turns it into
  a worker instead of a second copy of the app.
- frozen: ``set_executable(sys.executable)``, the bundle's own program, which
  PyInstaller's runtime hook knows how to run as a spawn child.
- the interpreter workers run: the one named by ``BATCHMILL_PYTHON`` (or the API's
  ``python=``); else, embedded in a host program whose ``sys.executable`` is not Python
  (ArcGIS, QGIS, a C program), a real interpreter found from the running one.
- Batchmill's own workers never re-run the parent's main module (see
  ``install_spawn_hook``): a host's tool script without an ``if __name__ == "__main__"``
  guard runs once, not once per worker.
- a guard: a worker, or a child re-running a main module while it starts, can never
  start a window, an engine or a job.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROLE_ENV = "BATCHMILL_ROLE"
PYTHON_ENV = "BATCHMILL_PYTHON"
WORKER_NAME_PREFIX = "batchmill-worker-"  # batchmill.core.pool names its processes so
# The file a Batchmill worker runs in place of the parent's main module (spawn's prepare()).
START_FILE = Path(__file__).with_name("child_start.py")


class BootstrapError(RuntimeError):
    """Worker processes cannot be started as things are; the message says why and what to do."""


def bootstrap(python: str | os.PathLike[str] | None = None) -> None:
    """Make this process able to start Batchmill's workers. Safe to call more than once.

    ``python`` names the interpreter workers run (else ``BATCHMILL_PYTHON``, else the
    running one, else one found beside an embedding host's Python)."""
    multiprocessing.freeze_support()  # in a frozen worker this runs the worker and never returns
    if is_frozen():
        multiprocessing.set_executable(sys.executable)
        return
    named = python if python is not None else os.environ.get(PYTHON_ENV) or None
    if named is not None:
        source = "python=" if python is not None else PYTHON_ENV
        multiprocessing.set_executable(str(check_interpreter(Path(os.fsdecode(named)), source)))
    elif not _looks_like_python(Path(sys.executable)):
        interpreter = find_interpreter()
        if interpreter is None:
            raise BootstrapError(
                f"this program ({sys.executable}) is not a Python interpreter, and none was found beside "
                f"its Python ({sys.prefix}), so worker processes cannot be started. Name the Python "
                f"{_version()} interpreter to run them: set the environment variable {PYTHON_ENV}, or pass "
                "python=... to batchmill.run() or batchmill.submit()")
        multiprocessing.set_executable(str(interpreter))
    install_spawn_hook()


def is_frozen() -> bool:
    return bool(getattr(sys, "frozen", False))


def in_child_start() -> bool:
    """True while a spawn child is still starting: it is running its parent's main module
    again (``multiprocessing``'s prepare step), before its own work has begun."""
    return bool(getattr(multiprocessing.current_process(), "_inheriting", False))


def refuse_in_worker(what: str) -> None:
    """Fail loudly if a worker (or any spawned helper) tries to start ``what``."""
    if in_child_start():
        main = getattr(sys.modules.get("__main__"), "__file__", None) or "the main module"
        raise BootstrapError(
            f"refusing to start {what} in a child process (pid {os.getpid()}) that is re-running {main} "
            "while it starts; put the script's own work under  if __name__ == \"__main__\":")
    if os.environ.get(ROLE_ENV) == "worker" or multiprocessing.parent_process() is not None:
        raise BootstrapError(
            f"refusing to start {what} inside a worker process (pid {os.getpid()}); "
            "an entry point was run by a child process: check that bootstrap() is called first")


def install_spawn_hook() -> None:
    """Batchmill's workers never re-run the parent's main module.

    A spawn child normally runs the parent's ``__main__`` again (as ``__mp_main__``) so that
    functions pickled by reference to it can be found. Batchmill ships such functions by
    value (dill), so its workers need nothing from it, and a host's tool script with no
    ``if __name__ == "__main__"`` guard would otherwise run its whole body once per worker.
    So for processes named ``batchmill-worker-N`` the child runs ``child_start.py``
    instead, which also makes Batchmill importable there when only the parent's import
    machinery knew where it is (an editable install seen from an embedding host). Other
    processes (the user's own, Dask's) keep the standard behaviour."""
    from multiprocessing import spawn

    current: Callable[[str], dict[str, Any]] = spawn.get_preparation_data
    if getattr(current, "batchmill_hook", False):
        return
    setattr(spawn, "get_preparation_data", _without_main(current))  # noqa: B010 - the hook itself


def _without_main(original: Callable[[str], dict[str, Any]]) -> Callable[[str], dict[str, Any]]:
    def get_preparation_data(name: str) -> dict[str, Any]:
        data = original(name)
        if name.startswith(WORKER_NAME_PREFIX) and not is_frozen():
            data.pop("init_main_from_name", None)
            data["init_main_from_path"] = str(START_FILE)
        return data

    get_preparation_data.__wrapped__ = original  # type: ignore[attr-defined]
    get_preparation_data.batchmill_hook = True  # type: ignore[attr-defined]
    return get_preparation_data


def workers_executable() -> str:
    """The program worker processes are started with (shown in About and selftest)."""
    from multiprocessing import spawn

    exe = spawn.get_executable()
    return os.fsdecode(exe) if isinstance(exe, bytes) else str(exe)


def _looks_like_python(path: Path) -> bool:
    name = path.name.lower()
    return name.startswith("python") or name.startswith("pypy")


def _version() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def find_interpreter() -> Path | None:
    """A real Python interpreter for the running stdlib, for hosts that embed Python."""
    candidates = []
    for base in (sys.exec_prefix, sys.prefix, getattr(sys, "base_exec_prefix", sys.exec_prefix)):
        root = Path(base)
        if os.name == "nt":
            candidates += [root / "python.exe", root / "Scripts" / "python.exe"]
        else:
            version = f"python{_version()}"
            candidates += [root / "bin" / version, root / "bin" / "python3", root / "bin" / "python"]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


@functools.lru_cache(maxsize=8)
def check_interpreter(path: Path, source: str) -> Path:
    """``path`` if it is a Python of this version that can run workers; else a BootstrapError
    that says what ``source`` (the variable or argument that named it) got wrong."""
    path = path.expanduser()
    if not path.is_file() or not os.access(path, os.X_OK):
        raise BootstrapError(f"{source} names {path}, which is not an executable file; name the Python "
                             f"{_version()} interpreter worker processes should run")
    try:
        found = subprocess.run([str(path), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                               capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BootstrapError(f"{source} names {path}, which could not be run: {exc}") from None
    version = found.stdout.strip()
    if found.returncode != 0 or version != _version():
        what = f"Python {version}" if found.returncode == 0 else f"a program that failed (exit {found.returncode})"
        raise BootstrapError(f"{source} names {path}, which is {what}; worker processes must run the same "
                             f"Python as this program ({_version()})")
    return path
