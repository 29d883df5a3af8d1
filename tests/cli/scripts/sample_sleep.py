"""A ``python`` processor for the timed-sample tests: notes its process id and the input's name
in ``log`` (one O_APPEND write), sleeps ``seconds``, then copies the input."""

from __future__ import annotations

import os
import time
from pathlib import Path


def process(src: Path, dst: Path, seconds: float = 0.5, log: str = "") -> None:
    if log:
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, f"{os.getpid()} {src.name}\n".encode())
        finally:
            os.close(fd)
    time.sleep(seconds)
    dst.write_bytes(src.read_bytes())
