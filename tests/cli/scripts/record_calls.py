"""A ``python`` processor that records every call: it appends the input's name to the file
named by the environment variable RECORD_CALLS (one short O_APPEND write per call, so the
lines of several workers never mix), then writes the input upper-cased, tagged."""

from __future__ import annotations

import os
from pathlib import Path


def process(src: Path, dst: Path, tag: str = "v1") -> dict[str, object]:
    fd = os.open(os.environ["RECORD_CALLS"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, (src.name + "\n").encode())
    finally:
        os.close(fd)
    data = src.read_bytes()
    dst.write_bytes(tag.encode() + b":" + data.upper())
    return {"name": src.name, "bytes": len(data), "tag": tag}
