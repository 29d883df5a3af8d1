"""A ``python`` processor for the CLI timeout test: a file named ``bad*`` sleeps far past any
``--timeout``; every other file is copied upper-cased at once."""

from __future__ import annotations

import time
from pathlib import Path


def process(src: Path, dst: Path, sleep_s: float = 60.0) -> None:
    if src.name.startswith("bad"):
        time.sleep(sleep_s)
    dst.write_bytes(src.read_bytes().upper())
