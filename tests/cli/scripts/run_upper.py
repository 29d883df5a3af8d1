"""A ``python`` processor for the CLI tests: the output is the input upper-cased.

A file whose name starts with ``bad`` raises, so a run has one known failure."""

from __future__ import annotations

from pathlib import Path


def process(src: Path, dst: Path) -> int:
    data = src.read_bytes()
    if src.name.startswith("bad"):
        raise ValueError(f"{src.name} is not welcome")
    dst.write_bytes(data.upper())
    return len(data)
