"""A ``python`` processor that fails the first time for chosen files.

A file is chosen by a marker file of the same name in ``markers``; the first call
for it removes the marker and raises, so a ``retry`` succeeds. Files whose name
starts with ``bad`` always fail (for the halt tests). Every call appends the
input's name to ``calls``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def transform(data: bytes) -> bytes:
    return b"fail-once v1\n" + data.upper()


def process(src: Path, dst: Path, markers: str, calls: str, delay: float = 0.0) -> None:
    _append_line(Path(calls), src.name)
    if delay:
        time.sleep(delay)
    if src.name.startswith("bad"):
        raise ValueError(f"{src.name} is always bad")
    marker = Path(markers) / src.name
    if marker.exists():
        marker.unlink()
        raise ValueError(f"planned first-time failure of {src.name}")
    dst.write_bytes(transform(src.read_bytes()))


def _append_line(log: Path, line: str) -> None:
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)
