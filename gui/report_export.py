"""A job's report as CSV (one row per file) or JSON (the job and every file). No Qt here."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from batchmill.core.journal import FileRecord, JobRecord

CSV_FIELDS = ("input", "output", "state", "kind", "error", "attempts", "duration_s", "traceback")


def job_summary(job: JobRecord) -> dict[str, Any]:
    return {"job_id": job.id, "name": job.name, "processor": job.processor, "state": job.shown_state.value,
            "total": job.total, "done": job.done, "failed": job.failed, "skipped": job.skipped,
            "elapsed_s": round(job.elapsed, 3), "error": job.error, "inputs": list(job.spec.inputs),
            "output": job.spec.output, "params": job.spec.params}


def file_row(record: FileRecord) -> dict[str, Any]:
    return {"input": record.input, "output": record.output, "state": record.state.value, "kind": record.kind,
            "error": record.error, "attempts": record.attempts,
            "duration_s": None if record.duration is None else round(record.duration, 6),
            "traceback": record.traceback}


def write_csv(path: Path, files: Sequence[FileRecord]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for record in files:
            writer.writerow({k: ("" if v is None else v) for k, v in file_row(record).items()})


def write_json(path: Path, job: JobRecord, files: Sequence[FileRecord]) -> None:
    data = {**job_summary(job), "files": [file_row(r) for r in files]}
    path.write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")
