"""A slow ``python`` processor for the resume tests: writes a transformed copy in two halves.

The pause between the halves makes a kill part-way leave half-written temporary
outputs behind, which a resumed job must clean up. Each call appends one line
(the input's name) to ``calls`` so a test can count how often a file ran.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def transform(data: bytes) -> bytes:
    """The output an uninterrupted run makes for ``data`` (tests compute it directly)."""
    return b"slow-copy v1\n" + data[::-1]


def process(src: Path, dst: Path, delay: float = 0.025, calls: str = "") -> None:
    if calls:
        _append_line(Path(calls), src.name)
    out = transform(src.read_bytes())
    half = len(out) // 2
    with open(dst, "wb") as handle:
        handle.write(out[:half])
        handle.flush()
        time.sleep(delay)
        handle.write(out[half:])


def _append_line(log: Path, line: str) -> None:
    # One small O_APPEND write per call: lines from concurrent workers never interleave.
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)
