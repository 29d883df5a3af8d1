"""Provenance sidecars (``--provenance sidecar``): a small JSON file beside each output,
``<output>.provenance.json``, saying what made it — the same facts the journal keeps
(``batchmill.core.provenance``), travelling with the file.

A worker writes a file's sidecar itself, after the processor returned, in three steps: the
sidecar under the job's temporary name (``.NAME.provenance.json.<job8>.bmpart``, which a resume
removes), then the output is renamed into place, then the sidecar. So a sidecar never names an
output that is not there, a kill leaves no half-written sidecar under its real name, and a
sidecar that cannot be written fails that file (the output is not kept without it). The engine
thread does nothing per file for it; with sidecars off nothing of this runs at all.

A final step's output (the checksum manifest: one per folder, no file of its own per input)
gets a sidecar too, written by ``write_atomically`` while ``final_step_sidecars`` is active: it
names the input folders the manifest covers rather than every file (the manifest lists those).

The sidecars Batchmill wrote (a name ending in ``.provenance.json`` and JSON that opens with the
schema's name: ``is_sidecar_file``) are never taken for inputs; a file of the user's that happens
to be named so is an input like any other. No output may be named so while sidecars are on (it
would take the name of another output's sidecar). Kept light on imports: workers load it.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import os
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

SIDECAR_SUFFIX = ".provenance.json"
SCHEMA = "batchmill.provenance"
SCHEMA_VERSION = 1
HASH_CHUNK = 1 << 20


def sidecar_path(output: str) -> str:
    """Where the sidecar of ``output`` goes: beside it, its name plus ``.provenance.json``."""
    return output + SIDECAR_SUFFIX


def is_sidecar_name(name: str) -> bool:
    return name.endswith(SIDECAR_SUFFIX)


_MARK = b'"schema": "' + SCHEMA.encode() + b'"'  # within the first bytes of every sidecar written


def is_sidecar_file(path: str) -> bool:
    """``path`` (named as a sidecar) is one Batchmill wrote: its JSON opens with the schema's name.
    Read without blocking and only if a regular file (a FIFO so named is not waited on); a file
    that cannot be read is not taken for one (it is an input, and fails with its reason)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        head = os.read(fd, 64)
    except OSError:
        return False
    finally:
        os.close(fd)
    return head.startswith(b"{") and _MARK in head


@dataclass(frozen=True, slots=True)
class SidecarJob:
    """What every sidecar of one job says alike: sent with each batch (None with sidecars off)."""

    job_id: str
    processor: str
    processor_version: str
    params: str  # JSON, as the journal's recipe holds them
    code: str  # the code's fingerprint (batchmill.core.provenance.code_fingerprint)
    payload_hash: str
    batchmill_version: str
    host: str
    hash_inputs: bool  # the input's and the output's sha256 go in too (--hash-inputs)


def sidecar_job(prepared: Any, recipe: Any) -> SidecarJob:
    """The job's part of its sidecars, from its PreparedJob and its recipe (batchmill.core.provenance)."""
    import socket

    from batchmill.core import __version__

    return SidecarJob(prepared.job_id, recipe.processor, recipe.version, recipe.params, recipe.code,
                      prepared.payload_key, __version__, socket.gethostname(), prepared.spec.hash_inputs)


class SidecarError(OSError):
    """A sidecar that could not be written; ``str()`` is the sentence a person reads."""

    def __str__(self) -> str:
        return str(self.strerror)


def document(job: SidecarJob, output: str, inputs: dict[str, Any] | list[dict[str, Any]], out_size: int | None,
             out_mtime_ns: int | None, made: float) -> dict[str, Any]:
    """A sidecar's content. ``inputs``: the one input of a file's output, or (a final step's
    output) the input roots it covers, under ``"inputs"``."""
    return {
        "schema": SCHEMA, "schema_version": SCHEMA_VERSION,
        "output": {"path": output, "size": out_size, "mtime_ns": out_mtime_ns},
        ("input" if isinstance(inputs, dict) else "inputs"): inputs,
        "processor": {"name": job.processor, "version": job.processor_version,
                      "params": json.loads(job.params), "code": job.code, "payload_hash": job.payload_hash},
        "batchmill": {"version": job.batchmill_version, "host": job.host, "job_id": job.job_id},
        "made": made,
        "made_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(made)),
    }


def input_facts(src: str, hash_inputs: bool) -> dict[str, Any]:
    """The input as it is now (just processed): path, size, mtime, and its sha256 if asked for."""
    st = os.stat(src)
    facts: dict[str, Any] = {"path": src, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    if hash_inputs:
        facts["sha256"] = hash_file(src)
    return facts


def hash_file(path: str) -> str:
    """The sha256 of a file (an input's for --hash-inputs, an output's for its sidecar), read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _write_tmp(tmp: str, data: dict[str, Any]) -> None:
    text = json.dumps(data, indent=1, ensure_ascii=False, default=str) + "\n"
    # UTF-8, names as they read; a name that is not valid UTF-8 (a str with lone surrogates) has
    # them written as \udcXX, which is that very character's JSON escape: the file stays JSON.
    with open(tmp, "w", encoding="utf-8", errors="backslashreplace") as handle:
        handle.write(text)


def sidecar_tmp(output: str, job_id: str) -> str:
    from batchmill.core.outputs import tmp_name_for

    return tmp_name_for(sidecar_path(output), job_id)


def stage(job: SidecarJob, src: str, dst: str, made_tmp: str) -> str:
    """Write the sidecar of ``dst`` (whose content is still at ``made_tmp``) under its temporary
    name; returns that name, for ``commit``. Raises SidecarError."""
    tmp = sidecar_tmp(dst, job.job_id)
    try:
        st = os.lstat(made_tmp)  # a rename keeps size and mtime: they are the output's
        facts = input_facts(src, job.hash_inputs)
        data = document(job, dst, facts, st.st_size, st.st_mtime_ns, time.time())
        if job.hash_inputs:  # hashes asked for: the output's too (a file's: a folder made has none)
            data["output"]["sha256"] = hash_file(made_tmp) if stat.S_ISREG(st.st_mode) else None
        _write_tmp(tmp, data)
    except OSError as exc:
        _remove(tmp)
        raise _error(dst, exc) from None
    return tmp


def commit(tmp: str, dst: str) -> None:
    """Put a staged sidecar in place (after its output). Raises SidecarError."""
    try:
        os.replace(tmp, sidecar_path(dst))
    except OSError as exc:
        _remove(tmp)
        raise _error(dst, exc) from None


def _error(dst: str, exc: OSError) -> SidecarError:
    reason = exc.strerror or str(exc)
    return SidecarError(exc.errno, f"cannot write the provenance sidecar {sidecar_path(dst)}: {reason}",
                        sidecar_path(dst))


def name_too_long(output: str) -> str | None:
    """Why the sidecar of ``output`` cannot be written at all, its name being longer than its
    folder's file system takes (an output named at the limit); None as a rule, cheaply."""
    name = os.path.basename(output) + SIDECAR_SUFFIX
    if len(name) * 4 <= 255:  # no file system takes fewer bytes in a name, and no character is more
        return None
    size = len(os.fsencode(name))
    try:
        limit = os.pathconf(os.path.dirname(output) or ".", "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # no such folder yet, or no pathconf (Windows)
        limit = 255
    if size <= limit:
        return None
    return (f"cannot write the provenance sidecar {sidecar_path(output)}: its name would be {size} bytes, longer "
            f"than the {limit} the file system takes; the output is not made without it (a shorter --name would do)")


def drop_stale_sidecar(output: str) -> None:
    """Remove the sidecar Batchmill wrote beside ``output``, if any: the output was just made
    again without one, and it told of the file that was there (a file of the user's so named stays)."""
    side = sidecar_path(output)
    if os.path.lexists(side) and is_sidecar_file(side):
        _remove(side)


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


# -- a final step's outputs (the checksum manifest) ------------------------------------------
# (the job's part, or None with sidecars off, [(input root, its output folder)]) while a job's final step runs
_FINAL: contextvars.ContextVar[tuple[SidecarJob | None, tuple[tuple[str, str], ...]] | None] = contextvars.ContextVar(
    "batchmill_final_sidecars", default=None)


@contextlib.contextmanager
def final_step_sidecars(job: SidecarJob | None, roots: list[tuple[str, str]]) -> Iterator[None]:
    """Within this block, each file ``write_atomically`` writes gets its sidecar (if ``job`` is None,
    loses the one it had: it told of the file that was there)."""
    token = _FINAL.set((job, tuple(roots)))
    try:
        yield
    finally:
        _FINAL.reset(token)


def write_final_sidecar(target: str, tmp_of: Any) -> None:
    """The sidecar of a final step's output just put in place, if the step runs with sidecars
    (``tmp_of``: the step's temporary name for a path). Raises SidecarError."""
    active = _FINAL.get()
    if active is None:
        return
    job, roots = active
    if job is None:
        drop_stale_sidecar(target)
        return
    folder = os.path.dirname(target)
    inputs = [{"path": root, "kind": "folder" if os.path.isdir(root) else "file"}
              for root, out in roots if os.path.normcase(out) == os.path.normcase(folder)]
    tmp = str(tmp_of(sidecar_path(target)))
    try:
        st = os.lstat(target)
        _write_tmp(tmp, document(job, target, inputs, st.st_size, st.st_mtime_ns, time.time()))
    except OSError as exc:
        _remove(tmp)
        raise _error(target, exc) from None
    commit(tmp, target)
