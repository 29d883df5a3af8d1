"""A fast ``python`` processor for the journal concurrency test: copies a tiny file.

``delay`` (seconds per file) stretches a run so that it overlaps the others for a while.
"""

from __future__ import annotations

import time
from pathlib import Path


def process(src: Path, dst: Path, delay: float = 0.0) -> None:
    if delay:
        time.sleep(delay)
    dst.write_bytes(b"tiny v1\n" + src.read_bytes())
