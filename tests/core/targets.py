"""Module-level targets for the engine tests (pebble's ``error_function``, ``suicide_function`` …).

Every target treats a file whose name starts with ``bad`` in one specific wrong way and every
other file well: its output is the input upper-cased (``expected_output``), and it returns the
worker's pid so a test can tell from the journal which process handled which file.

The processors below wrap the targets so the Engine can run them by name; ``register`` makes
them visible to ``batchmill.core.processors.get_processor`` through the plug-in hook (the outermost edge,
standing in for the ``batchmill.processors`` entry-point group).
"""

from __future__ import annotations

import functools
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

import batchmill.core.processors
from batchmill.core.context import ProcessorContext
from batchmill.core.processors.base import Param, Processor

BAD_PREFIX = "bad"
HANG_S = 60.0  # far longer than any test waits: only a kill ends it
EXIT_CODE = 3


def is_bad(src: Path) -> bool:
    return src.name.startswith(BAD_PREFIX)


def expected_output(data: bytes) -> bytes:
    return data.upper()


def write_good(src: Path, dst: Path | None) -> int:
    assert dst is not None
    dst.write_bytes(expected_output(src.read_bytes()))
    return os.getpid()


# -- targets: (src, dst, context, **options) -> pid ------------------------------------------
def copy_upper(src: Path, dst: Path | None, context: ProcessorContext, delay: float = 0.0,
               marker_dir: str = "") -> int:
    time.sleep(delay)
    return write_good(src, dst)


def raise_on_bad(src: Path, dst: Path | None, context: ProcessorContext, delay: float = 0.0,
                 marker_dir: str = "") -> int:
    if is_bad(src):
        raise ValueError(f"cannot digest {src.name}")
    return copy_upper(src, dst, context, delay)


def exit_on_bad(src: Path, dst: Path | None, context: ProcessorContext, delay: float = 0.0,
                marker_dir: str = "") -> int:
    if is_bad(src):
        os._exit(EXIT_CODE)
    return copy_upper(src, dst, context, delay)


def hang_on_bad(src: Path, dst: Path | None, context: ProcessorContext, delay: float = 0.0,
                marker_dir: str = "") -> int:
    """The bad file writes half an output under its temporary name, then never returns."""
    if is_bad(src):
        assert dst is not None
        dst.write_bytes(b"half an output")
        time.sleep(HANG_S)
    return copy_upper(src, dst, context, delay)


def partial_then_copy(src: Path, dst: Path | None, context: ProcessorContext, delay: float = 0.0,
                      marker_dir: str = "") -> int:
    """Slow files that leave a partial temporary output while they work (for cancel)."""
    assert dst is not None
    dst.write_bytes(b"partial")
    if is_bad(src):
        time.sleep(HANG_S)
    time.sleep(delay)
    return write_good(src, dst)


def unpicklable_on_bad(src: Path, dst: Path | None, context: ProcessorContext, delay: float = 0.0,
                       marker_dir: str = "") -> Any:
    if is_bad(src):
        return threading.Lock()
    return copy_upper(src, dst, context, delay)


def fail_first_attempt(src: Path, dst: Path | None, context: ProcessorContext, delay: float = 0.0,
                       marker_dir: str = "") -> int:
    """The bad file fails once, then works: a marker file remembers the first attempt."""
    if is_bad(src):
        marker = Path(marker_dir) / f"{src.name}.tried"
        if not marker.exists():
            marker.write_text("tried")
            raise OSError(f"flaky network share while reading {src.name}")
    return copy_upper(src, dst, context, delay)


def always_fail_on_bad(src: Path, dst: Path | None, context: ProcessorContext, delay: float = 0.0,
                       marker_dir: str = "") -> int:
    if is_bad(src):
        count = Path(marker_dir) / f"{src.name}.attempts"
        attempts = int(count.read_text()) + 1 if count.exists() else 1
        count.write_text(str(attempts))
        raise RuntimeError(f"attempt {attempts} failed")
    return copy_upper(src, dst, context, delay)


def segfault_on_bad(src: Path, dst: Path | None, context: ProcessorContext, delay: float = 0.0,
                    marker_dir: str = "") -> int:
    if is_bad(src):
        os.kill(os.getpid(), signal.SIGSEGV)
    return copy_upper(src, dst, context, delay)


class _ReduceRaises:
    def __reduce__(self) -> Any:
        raise RuntimeError("this object refuses to be pickled")

    def __repr__(self) -> str:
        raise RuntimeError("and to be shown")


def _worker_only_instance(marker_dir: str) -> Any:
    """An instance of a class from a module only this worker can import (written on the fly)."""
    import importlib
    import sys

    folder = Path(marker_dir) / "worker-only"
    folder.mkdir(exist_ok=True)
    (folder / "helper_mod.py").write_text("class Shape:\n    def __init__(self):\n        self.sides = 3\n")
    sys.path.insert(0, str(folder))
    return importlib.import_module("helper_mod").Shape()


# What a file named bad-<kind>... returns: each cannot be recorded as it is.
UNRECORDABLE: dict[str, Callable[[str], Any]] = {
    "tuplekeys": lambda marker_dir: {(1, 2): "a"},
    "hugebytes": lambda marker_dir: b"\0" * (200 << 20),
    "workeronly": _worker_only_instance,
    "reduceraises": lambda marker_dir: _ReduceRaises(),
    "hugestr": lambda marker_dir: "x" * (200 << 20),
    "nested": lambda marker_dir: {"rows": [{"blob": b"\1" * (20 << 20)}]},
}


def unrecordable_on_bad(src: Path, dst: Path | None, context: ProcessorContext, delay: float = 0.0,
                        marker_dir: str = "") -> Any:
    """``bad-<kind>.txt`` writes its output, then returns the value ``UNRECORDABLE[kind]``."""
    if is_bad(src):
        write_good(src, dst)
        return UNRECORDABLE[src.stem.split("-")[1]](marker_dir)
    return copy_upper(src, dst, context, delay)


def closerange_on_bad(src: Path, dst: Path | None, context: ProcessorContext, delay: float = 0.0,
                      marker_dir: str = "") -> int:
    """Closes every descriptor a worker holds, its pipe to the engine included."""
    if is_bad(src):
        assert dst is not None
        dst.write_bytes(b"an output that must not stay")
        os.closerange(3, 4096)
    return copy_upper(src, dst, context, delay)


def noisy_copy(src: Path, dst: Path | None, context: ProcessorContext, delay: float = 0.0,
               marker_dir: str = "") -> int:
    """Prints to stdout and stderr, and so does a program it starts."""
    import subprocess
    import sys

    print(f"noise on stdout from {src.name}")
    print(f"noise on stderr from {src.name}", file=sys.stderr)
    subprocess.run(["sh", "-c", f"echo child noise for {src.name}; echo child err >&2"], check=True)
    return copy_upper(src, dst, context, delay)


def start_child_on_bad(src: Path, dst: Path | None, context: ProcessorContext, delay: float = 0.0,
                       marker_dir: str = "") -> int:
    """The bad file starts a long ``sleep`` (its pid written to marker_dir), then hangs; others copy."""
    import subprocess

    if is_bad(src):
        child = subprocess.Popen(["sleep", "303"])
        (Path(marker_dir) / f"{src.name}.child").write_text(str(child.pid))
        time.sleep(HANG_S)
    return copy_upper(src, dst, context, delay)


def start_child_and_return(src: Path, dst: Path | None, context: ProcessorContext, delay: float = 0.0,
                           marker_dir: str = "") -> int:
    """Every file starts a long ``sleep`` it never waits for (pids written to marker_dir), then copies."""
    import subprocess

    child = subprocess.Popen(["sleep", "303"])
    (Path(marker_dir) / f"{src.name}.child").write_text(str(child.pid))
    return copy_upper(src, dst, context, delay)


def catastrophic_regex_on_bad(src: Path, dst: Path | None, context: ProcessorContext, delay: float = 0.0,
                              marker_dir: str = "") -> int:
    """Busy in C code holding the GIL for far longer than any test waits."""
    import re

    if is_bad(src):
        (Path(marker_dir) / f"{src.name}.pid").write_text(str(os.getpid()))
        re.match(r"(a+)+$", "a" * 64 + "b")
    return copy_upper(src, dst, context, delay)


def swap_sibling_for_fifo(src: Path, dst: Path | None, context: ProcessorContext, delay: float = 0.0,
                          marker_dir: str = "") -> int:
    """The first file (``a.txt``) replaces ``z.txt``, long since scanned, with a FIFO nobody writes."""
    if src.name == "a.txt":
        later = src.with_name("z.txt")
        later.unlink()
        os.mkfifo(later)
    return copy_upper(src, dst, context, delay)


def do_nothing(src: Path, dst: Path | None, context: ProcessorContext, delay: float = 0.0,
               marker_dir: str = "") -> None:
    """Writes no output."""


TARGETS: dict[str, Callable[..., Any]] = {fn.__name__: fn for fn in (
    copy_upper, raise_on_bad, exit_on_bad, hang_on_bad, partial_then_copy, unpicklable_on_bad,
    fail_first_attempt, always_fail_on_bad, segfault_on_bad, unrecordable_on_bad, closerange_on_bad,
    noisy_copy, start_child_on_bad, start_child_and_return, catastrophic_regex_on_bad, do_nothing, swap_sibling_for_fifo)}


# -- processors -------------------------------------------------------------------------------
class TargetProcessor(Processor):
    """Runs one of the module-level targets above, chosen by the ``target`` parameter."""

    name = "test-target"
    description = "test processor: runs a target function from tests/core/targets.py"
    params = (
        Param("target", str, "copy_upper", tuple(TARGETS), "which target function"),
        Param("delay", float, 0.0, (), "seconds every good file sleeps"),
        Param("marker_dir", str, "", (), "folder for the targets' marker files"),
    )

    def task(self, params: Mapping[str, Any]) -> functools.partial[Any]:
        return functools.partial(TARGETS[params["target"]], delay=params["delay"], marker_dir=params["marker_dir"])


class LambdaProcessor(Processor):
    """Ships a lambda: plain pickle refuses it, dill sends it by value."""

    name = "test-lambda"
    description = "test processor: a lambda"

    def task(self, params: Mapping[str, Any]) -> Callable[[Path, Path | None, ProcessorContext], Any]:
        return lambda src, dst, context: (
            1 / 0 if src.name.startswith("bad") else dst.write_bytes(src.read_bytes()[::-1]))


class ClosureProcessor(Processor):
    """Ships a closure over a parameter value and a local helper function."""

    name = "test-closure"
    description = "test processor: a closure"
    params = (Param("prefix", str, ">>", (), "bytes put before every output"),)

    def task(self, params: Mapping[str, Any]) -> Callable[[Path, Path | None, ProcessorContext], Any]:
        prefix = params["prefix"].encode()

        def refuse(name: str) -> None:
            raise LookupError(f"{params['prefix']} refuses {name}")

        def add_prefix(src: Path, dst: Path | None, context: ProcessorContext) -> None:
            if src.name.startswith("bad"):
                refuse(src.name)
            assert dst is not None
            dst.write_bytes(prefix + src.read_bytes())

        return add_prefix


class UnshippableClosureProcessor(Processor):
    """A closure over a generator, which neither pickle nor dill can send: pre-flight must name it."""

    name = "test-unshippable"
    description = "test processor: a closure over a generator"

    def task(self, params: Mapping[str, Any]) -> Callable[[Path, Path | None, ProcessorContext], Any]:
        numbers = (n for n in range(10))

        def numbered(src: Path, dst: Path | None, context: ProcessorContext) -> int:
            return next(numbers)

        return numbered


TEST_PROCESSORS: tuple[Processor, ...] = (
    TargetProcessor(), LambdaProcessor(), ClosureProcessor(), UnshippableClosureProcessor())


def register(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the test processors available by name, as an installed plug-in would be."""
    monkeypatch.setattr(batchmill.core.processors, "_plugins", lambda: (list(TEST_PROCESSORS), []))
