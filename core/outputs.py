"""Where outputs go and how they land: mirrored layout, temporary names, atomic renames."""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from batchmill.core.sidecar import sidecar_path, write_final_sidecar

TMP_SUFFIX = ".bmpart"
_TMP_RE = re.compile(r"^\..+\.[0-9a-f]{8}\.bmpart$")
# A name up to this many bytes keeps its readable temporary form, ``.NAME.<job8>.bmpart``
# (17 bytes more); a longer one gets ``.<hash>.<job8>.bmpart`` (34 bytes), which fits every
# file-name limit a file that exists can have (255 bytes on most file systems, 143 on eCryptfs).
READABLE_TMP_BYTES = 100
_HASHED_TMP_CHARS = 16


def tmp_path_for(dst: Path, job_id: str) -> Path:
    """The temporary name a file's output is written under before ``os.replace``.

    Deterministic (per job and output) so that a resumed job can remove what a
    killed run left behind; hidden and suffixed so nobody mistakes it for output;
    short enough for any file-name limit (see READABLE_TMP_BYTES)."""
    return dst.with_name(_tmp_leaf(dst.name, job_id))


def tmp_name_for(dst: str, job_id: str) -> str:
    """``tmp_path_for`` on plain strings, for the per-file hot path."""
    folder, name = os.path.split(dst)
    return os.path.join(folder, _tmp_leaf(name, job_id))


def _tmp_leaf(name: str, job_id: str) -> str:
    if len(name) * 4 > READABLE_TMP_BYTES:  # cheap test first: most names are short
        raw = os.fsencode(name)
        if len(raw) > READABLE_TMP_BYTES:
            name = hashlib.sha256(raw).hexdigest()[:_HASHED_TMP_CHARS]
    return f".{name}.{job_id[:8]}{TMP_SUFFIX}"


def is_tmp_name(name: str) -> bool:
    return name.endswith(TMP_SUFFIX) and bool(_TMP_RE.match(name))


def is_tmp_of_job(name: str, job_id: str) -> bool:
    """A temporary this job made: a file's output on its way, or a final step's (see job_tmp_tag)."""
    return name.endswith(f".{job_id[:8]}{TMP_SUFFIX}") and is_tmp_name(name)


# The job whose final step is running on this thread: its temporaries carry the job's tag, like
# its files' temporaries, so a resume finds and removes what a killed final step left.
_JOB_TAG: contextvars.ContextVar[str | None] = contextvars.ContextVar("batchmill_job_tag", default=None)


@contextlib.contextmanager
def temporaries_of_job(job_id: str) -> Iterator[None]:
    """Within this block, ``write_atomically`` names its temporaries after ``job_id``."""
    token = _JOB_TAG.set(job_id[:8])
    try:
        yield
    finally:
        _JOB_TAG.reset(token)


def remove_job_temporaries(folder: Path, job_id: str) -> list[str]:
    """Remove every temporary of ``job_id`` directly in ``folder``; what could not be removed, and why."""
    problems: list[str] = []
    try:
        names = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return problems
    except OSError as exc:
        return [f"cannot look for temporaries in {folder}: {exc.strerror or exc}"]
    for name in names:
        if is_tmp_of_job(name, job_id):
            problem = remove_quietly(folder / name)
            if problem:
                problems.append(problem)
    return problems


def remove_quietly(path: str | Path) -> str | None:
    """Remove a temporary. None when it is gone (or never was); else why it could not be removed:
    a clean-up is about one file, so it never raises."""
    try:
        os.unlink(path)
    except (FileNotFoundError, NotADirectoryError):  # never made, or its folder could not be
        return None
    except OSError as exc:
        if os.path.isdir(path) and not os.path.islink(path):  # a processor made its output a folder
            return _remove_folder(path)
        return f"could not remove the temporary {path}: {exc.strerror or exc}"
    return None


def _remove_folder(path: str | Path) -> str | None:
    try:
        shutil.rmtree(path)
    except OSError as exc:
        return f"could not remove the temporary {path}: {exc.strerror or exc}"
    return None


def free_name(path: Path, taken: set[str], beside: str = "") -> Path:
    """``name (1).ext``, ``name (2).ext`` … : the first that exists neither on disk nor in ``taken``
    (nor, with ``beside``, a file of its name plus ``beside``: a provenance sidecar)."""
    stem, suffix = path.stem, path.suffix
    n = 1
    while True:
        candidate = path.with_name(f"{stem} ({n}){suffix}")
        if (str(candidate) not in taken and not os.path.lexists(candidate)
                and not (beside and os.path.lexists(f"{candidate}{beside}"))):
            return candidate
        n += 1


def write_atomically(target: Path, data: bytes | Iterable[bytes], overwrite: str) -> Path | None:
    """Write a whole file under a temporary name, then rename it into place. ``data`` may come
    in pieces (a manifest of a million lines is never one bytes object).

    Returns the path written, or None when ``overwrite`` is ``skip`` and the target exists."""
    if os.path.lexists(target):
        if overwrite == "skip":
            return None
        if overwrite == "rename":
            target = free_name(target, set())
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(_tmp_leaf(target.name, _JOB_TAG.get() or f"{os.getpid():08x}"[-8:]))
    try:
        with open(tmp, "wb") as handle:
            if isinstance(data, bytes):
                handle.write(data)
            else:
                handle.writelines(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    write_final_sidecar(str(target), _tagged_tmp)  # a job's final step with --provenance sidecar
    return target


def sidecar_if_missing(target: Path) -> None:
    """A final step's output it left as it was (up to date): its sidecar, if the step has them on
    and there is none yet (the output was made before sidecars were asked for)."""
    if not os.path.lexists(sidecar_path(str(target))):
        write_final_sidecar(str(target), _tagged_tmp)


def _tagged_tmp(path: str) -> str:
    folder, name = os.path.split(path)
    return os.path.join(folder, _tmp_leaf(name, _JOB_TAG.get() or f"{os.getpid():08x}"[-8:]))
