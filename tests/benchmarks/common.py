"""Shared helpers of the benchmarks: making tiny files, timing whole commands."""

from __future__ import annotations

import compileall
import functools
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


@functools.cache
def byte_compile_batchmill() -> None:
    """Byte-compile ``core`` and ``gui`` once, as ``pip install`` does for an installed package.

    An editable checkout run with PYTHONDONTWRITEBYTECODE set (as on the build machine) never
    caches bytecode, so without this the CLI and every worker would compile Batchmill's source
    on each start, a cost no installed copy has."""
    for package in ("core", "gui"):
        compileall.compile_dir(str(HERE.parents[1] / package), quiet=1)


def batchmill_command() -> list[str]:
    byte_compile_batchmill()
    script = Path(sys.executable).with_name("batchmill")
    return [str(script)] if script.exists() else [sys.executable, "-m", "batchmill.gui.launcher"]


def make_tiny_files(folder: Path, count: int, size: int = 4096, per_dir: int = 1000) -> Path:
    """``count`` files of ``size`` random bytes, ``per_dir`` to a sub-folder; reused when present."""
    marker = folder / f".made-{count}-{size}"
    if marker.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for i in range(count):
        sub = folder / f"d{i // per_dir:03d}"
        if i % per_dir == 0:
            sub.mkdir()
        (sub / f"f{i:06d}.bin").write_bytes(os.urandom(size))
    marker.touch()
    return folder


def time_command(argv: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def best_of(times: list[float]) -> str:
    return f"best {min(times):.3f} s, median {statistics.median(times):.3f} s"
