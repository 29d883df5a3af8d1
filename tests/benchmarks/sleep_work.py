"""A user's script for the long-file benchmark: every file takes ``seconds``; a file whose name
starts with ``hang`` never ends (only a timeout stops it)."""

from __future__ import annotations

import time
from pathlib import Path

HANG_S = 3600.0


def process(src: Path, dst: Path, seconds: float = 1.0) -> None:
    time.sleep(HANG_S if src.name.startswith("hang") else seconds)
