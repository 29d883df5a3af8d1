"""A user's script that does nothing with its file: the no-op ``python`` processor of bench_memory.py."""

from __future__ import annotations

from pathlib import Path


def process(src: Path, dst: Path) -> None:
    return None
