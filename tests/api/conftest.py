"""Fixtures for the Python API's tests."""

from __future__ import annotations

from collections.abc import Iterator
from multiprocessing import spawn
from pathlib import Path

import pytest


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    """``in/`` with 12 small text files, two of them ``bad*``, three in a sub-folder."""
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    for n in range(12):
        name = f"bad{n:02d}.txt" if n in (3, 7) else f"f{n:02d}.txt"
        (folder / ("sub" if n % 4 == 0 else "") / name).write_text(f"line {n}\n")
    return folder


@pytest.fixture
def restore_spawn_executable() -> Iterator[None]:
    """Tests that make bootstrap() choose another interpreter put the real one back."""
    before = spawn.get_executable()
    yield
    spawn.set_executable(before)
