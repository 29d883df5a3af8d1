"""Where outputs go and how they land: mirrored layout, temporary names, atomic renames."""

from __future__ import annotations

import os
import re
from pathlib import Path

TMP_SUFFIX = ".bmpart"
_TMP_RE = re.compile(r"^\..+\.[0-9a-f]{8}\.bmpart$")


def tmp_path_for(dst: Path, job_id: str) -> Path:
    """The temporary name a file's output is written under before ``os.replace``.

    Deterministic (per job and output) so that a resumed job can remove what a
    killed run left behind; hidden and suffixed so nobody mistakes it for output."""
    return dst.with_name(f".{dst.name}.{job_id[:8]}{TMP_SUFFIX}")


def tmp_name_for(dst: str, job_id: str) -> str:
    """``tmp_path_for`` on plain strings, for the per-file hot path."""
    folder, name = os.path.split(dst)
    return os.path.join(folder, f".{name}.{job_id[:8]}{TMP_SUFFIX}")


def is_tmp_name(name: str) -> bool:
    return name.endswith(TMP_SUFFIX) and bool(_TMP_RE.match(name))


def free_name(path: Path, taken: set[str]) -> Path:
    """``name (1).ext``, ``name (2).ext`` … : the first that exists neither on disk nor in ``taken``."""
    stem, suffix = path.stem, path.suffix
    n = 1
    while True:
        candidate = path.with_name(f"{stem} ({n}){suffix}")
        if str(candidate) not in taken and not os.path.lexists(candidate):
            return candidate
        n += 1


def write_atomically(target: Path, data: bytes, overwrite: str) -> Path | None:
    """Write a whole file under a temporary name, then rename it into place.

    Returns the path written, or None when ``overwrite`` is ``skip`` and the target exists."""
    if os.path.lexists(target):
        if overwrite == "skip":
            return None
        if overwrite == "rename":
            target = free_name(target, set())
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid():08x}"[:255] + TMP_SUFFIX)
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return target
