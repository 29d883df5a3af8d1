"""A user's script that copies its file: the ``python`` processor of bench_sidecar.py."""

from __future__ import annotations

from pathlib import Path


def process(src: Path, dst: Path) -> None:
    dst.write_bytes(src.read_bytes())
