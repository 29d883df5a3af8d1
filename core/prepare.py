"""Turning a JobSpec (or a journaled job) into something the engine thread can run.

Everything about a new job that needs no journal is checked here, in the caller's thread
(``check_new``); the engine thread journals it (``journal_new``) and the caller's Future says
how that went, so ``batchmill run`` can exit 2 with a message before anything runs."""

from __future__ import annotations

import os
from pathlib import Path
from dataclasses import dataclass
from collections.abc import Collection
from typing import Any, Literal

from batchmill.core.events import FileStatus, JobState
from batchmill.core.journal import ClaimedElsewhere, Journal, JobRecord
from batchmill.core.payload import PayloadError, dumps_checked, payload_key, translate_legacy
from batchmill.core.plan import PlanError, check_dropped_files, plan_roots
from batchmill.core.processors import Processor, UnknownProcessor, get_processor
from batchmill.core.processors.base import ParamError, RootOutput, restore_params
from batchmill.core.provenance import ProvenanceStore, Recipe, make_recipe, script_fingerprint
from batchmill.core.spec import JobSpec


class JobError(ValueError):
    """A job that cannot start; the message says what is wrong."""


@dataclass(frozen=True)
class PreparedJob:
    job_id: str
    spec: JobSpec
    processor: Processor
    params: dict[str, Any]
    roots: list[RootOutput]
    payload: bytes
    payload_key: str
    mode: Literal["new", "resume", "retry"]


def check_new(spec: JobSpec, processor: Processor | None = None) -> PreparedJob:
    """``processor``: the one to run instead of the one ``spec`` names (batchmill.run() hands a
    function over this way; the spec names its processor, so the journaled job resumes).

    Everything about a new job that needs no journal (its processor, parameters, inputs and
    outputs), on the caller's thread; the job has its id but is not journaled yet (``journal_new``,
    which the engine does on its own thread: a window never waits for the journal)."""
    try:
        processor = processor or get_processor(spec.processor)
        params = processor.validate(spec.params)
        roots = plan_roots(spec)
        check_dropped_files(spec, processor, params, roots)
        payload = dumps_checked(processor.task(params), f"processor {processor.name!r}")
    except (UnknownProcessor, ParamError, PlanError, PayloadError) as exc:
        raise JobError(str(exc)) from None
    job_id = os.urandom(6).hex()  # as uuid4().hex[:12] was (48 random bits), without uuid's import
    return PreparedJob(job_id, spec, processor, params, roots, payload, payload_key(payload), "new")


def journal_new(prepared: PreparedJob, journal: Journal) -> None:
    """Write a job made by ``check_new`` to the journal (the journal's trouble raises JournalError)."""
    journal.create_job(prepared.job_id, prepared.spec, prepared.processor.identity(prepared.params),
                       prepared.payload, prepared.payload_key, [r.is_dir for r in prepared.roots])


def current_payload(job: JobRecord) -> tuple[bytes, str, Recipe] | None:
    """The job's processor as its code is now (a user's script read again), with its key and
    its recipe (the code's fingerprint); None when it cannot be made (the script is gone or broken)."""
    try:
        processor = get_processor(job.spec.processor)
        params = processor.validate(job.spec.params)  # as a new job would: a script is loaded again
        payload = dumps_checked(processor.task(params), f"processor {processor.name!r}")
    except (UnknownProcessor, ParamError, PayloadError, OSError, KeyError):
        return None
    key = payload_key(payload)
    return payload, key, make_recipe(processor, params, key)


def code_changed(job: JobRecord, journaled_code: str | None) -> bool:
    """Whether the job's processor is a user's script that has been edited since the job's code
    was journaled (a retry then asks which code to run). ``journaled_code``: the job's recipe's
    fingerprint (``JournalReader.job_code`` or ``ProvenanceStore.job_recipe``), the hash of the
    script's text, so a ``touch`` asks nothing and an edit that put the old time back is seen.
    (A dill payload made again from unchanged code is not always the same bytes, so payloads are
    not compared.) A job without a recipe (it never ran, or is older than recipes) falls back
    to the script file's time against the job's creation."""
    script = job.spec.params.get("script")
    if not isinstance(script, str) or not script:
        return False
    path = str(Path(script).expanduser().absolute())
    if journaled_code is not None:
        if not journaled_code.startswith("script:"):
            return False  # not a script's text: nothing the operator edits
        now = script_fingerprint(path)
        return now.startswith("script:") and now != journaled_code  # gone: only the original can run
    try:
        edited = os.stat(path).st_mtime
    except OSError:
        return False  # gone: only the original can run
    return edited > job.created


def prepare_again(job_id: str, journal: Journal, mode: Literal["resume", "retry"],
                  current_code: bool = False, only: Collection[int] | None = None) -> PreparedJob:
    """``current_code``: run the processor as its code is now (journaled for the job from then
    on), not the code the job was made with. ``only``: a retry of just these failed files (ids)."""
    try:
        job = journal.get_job(job_id)
    except LookupError as exc:
        raise JobError(str(exc)) from None
    if job is None:
        raise JobError(f"no job {job_id!r} in the journal {journal.path}")
    if job.owner_alive and job.state.is_active:
        raise JobError(f"job {job.id} is being run by process {job.owner_pid}; it cannot be {mode}d from here")
    try:
        processor = get_processor(job.spec.processor)
        params = restore_params(processor, job.spec.params)
        roots = plan_roots_for_existing(job)
    except (UnknownProcessor, ParamError, PlanError) as exc:
        raise JobError(f"job {job.id} cannot be {mode}d: {exc}") from None
    payload = journal.payload(job.payload_hash) if job.payload_hash else None
    if current_code:
        current = current_payload(job)
        if current is None:
            raise JobError(f"job {job.id} cannot be {mode}d with the current code: its processor does not load")
        payload = current[0]
        journal.replace_payload(job.id, current[0], current[1])
        # The job's recipe too: its outputs are recorded as made by this code, and a later retry
        # compares the script with it (not asking again about an edit already taken).
        ProvenanceStore(journal).save_recipe(job.id, current[2])
        job = journal.get_job(job.id) or job
    if payload is None:
        raise JobError(f"job {job.id} cannot be {mode}d: its processor is missing from the journal")
    key = job.payload_hash or ""
    if job.created_by is None:  # journaled before 0.2: its payload names the packages as they were then
        try:
            payload = translate_legacy(payload)
        except PayloadError as exc:
            raise JobError(f"job {job.id} cannot be {mode}d: {exc}") from None
        key = payload_key(payload)
    try:
        journal.claim(job.id)  # checks again, in the same write: another process may have claimed it since
    except ClaimedElsewhere as exc:
        raise JobError(f"{exc}; it cannot be {mode}d from here") from None
    if job.state in (JobState.QUEUED, JobState.PLANNING):
        mode_used: Literal["new", "resume", "retry"] = "new"  # never got past planning: plan afresh
        journal.delete_files(job.id)
    else:
        mode_used = mode
    if mode == "retry":
        journal.reset_files(job.id, (FileStatus.FAILED,), only)
    return PreparedJob(job.id, job.spec, processor, params, roots, payload, key, mode_used)


def plan_roots_for_existing(job: JobRecord) -> list[RootOutput]:
    """The roots as planned when the job was created (inputs may have gone since)."""
    output = Path(job.spec.output)
    roots = []
    for index, raw in enumerate(job.spec.inputs):
        path = Path(raw)
        is_dir = job.root_is_dir[index] if index < len(job.root_is_dir) else path.is_dir()
        roots.append(RootOutput(index, path, is_dir, output / path.name if is_dir else output))
    return roots
