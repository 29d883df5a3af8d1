"""A ``python`` processor whose worker may not write files larger than ``limit`` bytes.

``resource.setrlimit(RLIMIT_FSIZE)`` is set in the worker on every call (only the
first one changes anything); a file whose name starts with ``big`` gets an output
of ``big_size`` bytes, which the kernel refuses with EFBIG ("File too large").
Python ignores SIGXFSZ, so the write raises instead of killing the worker.
"""

from __future__ import annotations

import resource
from pathlib import Path


def transform(data: bytes) -> bytes:
    return b"fsize v1\n" + data


def process(src: Path, dst: Path, limit: int = 65536, big_size: int = 1 << 20) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    if soft != limit:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    if src.name.startswith("big"):
        dst.write_bytes(b"x" * big_size)
        return
    dst.write_bytes(transform(src.read_bytes()))
