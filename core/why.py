"""``batchmill why PATH``: what made an output (or what an input was made into), and what the
next run of its job with ``--overwrite changed`` would do to it, and why.

The path may be an output (its row in the journal's ``outputs`` table), an input (every
output recorded for it), or an input no job has processed yet (the latest job whose inputs
hold it says what would happen). The verdict uses the job as it stands now: the processor
loaded again, a ``python`` script read again, so an edited script shows as changed code.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

from batchmill.core.freshness import Fresh, Freshness, recipe_now
from batchmill.core.inputs_guard import InputGuard
from batchmill.core.journal import Journal, JobRecord
from batchmill.core.payload import PayloadError
from batchmill.core.plan import PlanError, Planner, plan_roots
from batchmill.core.processors import UnknownProcessor, get_processor
from batchmill.core.processors.base import ParamError, Processor, RootOutput, restore_params
from batchmill.core.provenance import OutputRecord, ProvenanceStore, Recipe
from batchmill.core.scan import Filter
from batchmill.core.sidecar import SIDECAR_SUFFIX, is_sidecar_file, is_sidecar_name, sidecar_path
from batchmill.core.spec import Overwrite

SHOWN_RECORDS = 5
JOBS_LOOKED_AT = 200


@dataclass
class Explanation:
    path: str
    found: bool  # the journal knows the path (made it, or has a job over it)
    lines: list[str] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)

    def text(self) -> str:
        return "\n".join(self.lines)

    def as_json(self) -> dict[str, Any]:
        return {"path": self.path, "found": self.found, "records": self.records}


def explain(raw_path: str, journal: Journal) -> Explanation:
    path = os.path.abspath(raw_path)
    store = ProvenanceStore(journal)
    record = store.by_output(path)
    if record is None and is_sidecar_name(path):  # a provenance sidecar: what made its output
        output = path[:-len(SIDECAR_SUFFIX)]
        if store.by_output(output) is not None:
            of_output = explain(output, journal)
            of_output.lines.insert(0, f"{path} is the provenance sidecar of {output}")
            return of_output
    records = [record] if record is not None else store.by_input(path)[:SHOWN_RECORDS]
    found = Explanation(path, bool(records))
    for record in records:
        job = journal.get_job(record.job_id)
        data = _provenance(store, record, job)
        data["now"] = _now(journal, store, job, record.input) if job is not None else {
            "verdict": "unknown", "reason": f"job {record.job_id} is no longer in the journal"}
        found.records.append(data)
        found.lines += _lines(data)
    if records:
        return found
    travelled = _from_sidecar(path)  # made elsewhere, or the journal forgot it: its sidecar says
    if travelled is not None:
        return travelled
    job = _job_over(journal, path)
    if job is None:
        found.lines.append(f"{path}: no job in the journal {journal.path} made it or reads it")
        return found
    found.found = True
    now = _now(journal, store, job, path)
    found.records.append({"input": path, "job_id": job.id, "now": now})
    found.lines += [f"{path}", f"  made by      nothing yet: no job has processed it (latest job over it: {job.id})",
                    f"  next run     {_now_line(now)}"]
    return found


def _provenance(store: ProvenanceStore, record: OutputRecord, job: JobRecord | None) -> dict[str, Any]:
    recipe = store.recipe(record.recipe)
    return {
        "output": record.output, "input": record.input, "job_id": record.job_id, "made": record.made,
        "input_size": record.in_size, "input_mtime_ns": record.in_mtime_ns, "input_sha256": record.in_hash,
        "output_size": record.out_size, "output_mtime_ns": record.out_mtime_ns, "result": record.result,
        "reason": record.reason,
        "processor": recipe.processor if recipe else None, "processor_version": recipe.version if recipe else None,
        "params": json.loads(recipe.params) if recipe else None, "code": recipe.code if recipe else None,
        "payload_hash": job.payload_hash if job else None, "identity": job.identity if job else None,
        "batchmill_version": job.created_by if job else None, "host": job.owner_host if job else None,
    }


def _lines(data: dict[str, Any]) -> list[str]:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(data["made"]))
    made_from = f"{data['input']} ({_size(data['input_size'])}, modified {_ns(data['input_mtime_ns'])}"
    made_from += f", sha256 {data['input_sha256']})" if data["input_sha256"] else ")"
    lines = [data["output"] or f"{data['input']} (no file output of its own)",
             f"  made by      job {data['job_id']} on {when}, host {data['host'] or '?'}, "
             f"Batchmill {data['batchmill_version'] or 'before 0.2'}",
             f"  from input   {made_from}",
             f"  processor    {data['processor']} version {data['processor_version'] or '?'} ({data['identity']})",
             f"  parameters   {json.dumps(data['params'], sort_keys=True)}",
             f"  code         {data['code']}",
             f"  payload hash {data['payload_hash']}"]
    if data["output"]:
        lines.append(f"  output       {_size(data['output_size'])}, modified {_ns(data['output_mtime_ns'])}")
    if data["result"] is not None:
        lines.append(f"  result       {json.dumps(data['result'])}")
    if data["reason"]:
        lines.append(f"  made because {data['reason']}")
    lines.append(f"  next run     {_now_line(data['now'])}")
    return lines


def _from_sidecar(path: str) -> Explanation | None:
    """An output the journal has no record of (or its sidecar), explained by the provenance
    sidecar Batchmill wrote beside it, with whether the output is still as it says."""
    if is_sidecar_name(path) and is_sidecar_file(path):
        side, output = path, path[:-len(SIDECAR_SUFFIX)]
    elif os.path.lexists(sidecar_path(path)) and is_sidecar_file(sidecar_path(path)):
        side, output = sidecar_path(path), path
    else:
        return None
    try:
        with open(side, encoding="utf-8") as handle:
            doc = json.load(handle)
        made_by, processor, out = doc["batchmill"], doc["processor"], doc["output"]
        inputs = [doc["input"]] if "input" in doc else list(doc["inputs"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        found = Explanation(path, False)
        found.lines.append(f"{path}: the journal has no record of it, and its provenance sidecar {side} "
                           f"cannot be read ({type(exc).__name__}: {exc})")
        return found
    first = inputs[0] if inputs else {}
    data: dict[str, Any] = {
        "output": output, "input": ", ".join(str(i.get("path")) for i in inputs), "job_id": made_by.get("job_id"),
        "made": doc.get("made", 0.0), "input_size": first.get("size"), "input_mtime_ns": first.get("mtime_ns"),
        "input_sha256": first.get("sha256"), "output_size": out.get("size"), "output_mtime_ns": out.get("mtime_ns"),
        "result": None, "reason": None, "processor": processor.get("name"),
        "processor_version": processor.get("version"), "params": processor.get("params"), "code": processor.get("code"),
        "payload_hash": processor.get("payload_hash"), "identity": processor.get("name"),
        "batchmill_version": made_by.get("version"), "host": made_by.get("host"), "sidecar": side,
    }
    try:
        st = os.lstat(output)
    except OSError:
        data["now"] = {"verdict": "gone", "reason": "the output does not exist (any more)"}
    else:
        if (st.st_size, st.st_mtime_ns) == (out.get("size"), out.get("mtime_ns")):
            data["now"] = {"verdict": "as made", "reason": "the output is as the sidecar says"}
        else:
            data["now"] = {"verdict": "changed", "reason": f"the output changed since ({_size(st.st_size)}, "
                                                           f"modified {_ns(st.st_mtime_ns)})"}
    found = Explanation(path, True, records=[data])
    lines = _lines(data)[:-1]  # its next run is the journal's to say, and it has no record
    found.lines = [lines[0], f"  from its provenance sidecar {side} (the journal has no record of it)", *lines[1:],
                   f"  output now   {data['now']['reason']}"]
    return found


def _now_line(now: dict[str, Any]) -> str:
    verdict = now["verdict"]
    word = {"up to date": "up to date", "new": "will run", "changed": "will run again"}.get(verdict, verdict)
    return f"{word}: {now['reason']} (with --overwrite changed)"


def _now(journal: Journal, store: ProvenanceStore, job: JobRecord, src: str) -> dict[str, Any]:
    """What the job, run again now with --overwrite changed, would do to input ``src``."""
    spec = job.spec.with_changes(overwrite=Overwrite.CHANGED)
    try:
        processor, params, recipe = _job_now(store, job)
        roots = plan_roots(spec)
    except (UnknownProcessor, ParamError, PlanError, PayloadError) as exc:
        return {"verdict": "unknown", "reason": f"job {job.id} cannot be planned again: {exc}"}
    if not os.path.lexists(src):
        return {"verdict": "gone", "reason": "the input does not exist (any more)"}
    placed = _place(roots, src)
    if placed is None:
        return {"verdict": "not an input", "reason": f"it is not among the inputs of job {job.id}"}
    root, relpath = placed
    name = os.path.basename(relpath)
    if root.is_dir and not Filter(spec.include, spec.exclude, spec.ignore_case).wants_file(name, relpath):
        return {"verdict": "excluded", "reason": "left out by the job's --include/--exclude patterns"}
    dst: str | None = None
    planner = Planner(spec, processor, params, InputGuard(roots, spec.output))
    if not planner.no_outputs:
        try:
            dst = planner.plan(root.index, str(root.output), src, relpath, -1).dst
        except PlanError as exc:  # its output would be an input (one file alone cannot collide)
            return {"verdict": "refused", "reason": str(exc)}
    fresh: Fresh = Freshness(store, recipe, roots, spec.hash_inputs, spec.sidecars).check(root.index, src, dst)
    verdict = "up to date" if fresh.up_to_date else "new" if fresh.new else "changed"
    return {"verdict": verdict, "reason": fresh.reason, "output": dst}


def _job_now(store: ProvenanceStore, job: JobRecord) -> tuple[Processor, dict[str, Any], Recipe]:
    """The job's processor, parameters and recipe as they would be for a new run now. A
    function handed to batchmill.run() exists only in the journal: its recipe is the job's."""
    processor = get_processor(job.spec.processor)
    recorded = store.job_recipe(job.id)
    try:
        params = processor.validate(job.spec.params)
    except ParamError:
        if recorded is None:
            raise
        return processor, restore_params(processor, job.spec.params), recorded
    return processor, params, recipe_now(processor, params)


def _place(roots: list[RootOutput], src: str) -> tuple[RootOutput, str] | None:
    for root in roots:
        base = str(root.input)
        if not root.is_dir:
            if src == base:
                return root, root.input.name
        elif src.startswith(base.rstrip(os.sep) + os.sep):
            return root, src[len(base.rstrip(os.sep)) + 1:]
    return None


def _job_over(journal: Journal, path: str) -> JobRecord | None:
    """The latest job whose inputs hold ``path``."""
    for job in journal.list_jobs(JOBS_LOOKED_AT):
        for raw in job.spec.inputs:
            if path == raw or path.startswith(raw.rstrip(os.sep) + os.sep):
                return job
    return None


def _size(size: int | None) -> str:
    return "size unknown" if size is None else f"{size:,} bytes"


def _ns(ns: int | None) -> str:
    if ns is None:
        return "unknown"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ns / 1e9)) + f".{ns % 1_000_000_000 // 1_000_000:03d}"
