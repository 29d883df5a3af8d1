"""``batchmill selftest``: prove that this installation can run work in worker processes.

Starts a real pool, runs a dill-shipped lambda (not importable by the workers)
and a small checksum job, checks every answer against one computed here, and
checks that no more processes than workers were started. Prints a verdict."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from batchmill.core.diagnostics import collect
from batchmill.core.events import Event, JobFinished, JobState, WorkerStatus
from batchmill.core.processors.base import Processor

FILES = 24
WORKERS = 2
TIMEOUT_S = 120.0


class _LambdaProcessor(Processor):
    """A processor whose per-file function is a lambda: only dill can ship it."""

    name = "selftest-lambda"
    makes_file_outputs = True

    def task(self, params: Mapping[str, Any]) -> Callable[..., Any]:
        salt = params.get("salt", "batchmill")
        return lambda src, dst, ctx: Path(dst).write_text(f"{salt}:{Path(src).read_text()[::-1]}") and os.getpid()


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def add(self, name: str, ok: bool, detail: str) -> None:
        self.checks.append(Check(name, ok, detail))

    def text(self) -> str:
        lines = collect().lines() + [""]
        lines += [f"[{'PASS' if c.ok else 'FAIL'}] {c.name}: {c.detail}" for c in self.checks]
        lines.append("")
        lines.append("VERDICT: PASS — worker processes run correctly here" if self.ok
                     else "VERDICT: FAIL — see the failed checks above")
        return "\n".join(lines)


def run_selftest(progress: Callable[[str], None] = lambda _m: None) -> Report:
    from batchmill.core.engine import Engine
    from batchmill.core.prepare import PreparedJob
    from batchmill.core.spec import JobSpec

    report = Report()
    with tempfile.TemporaryDirectory(prefix="batchmill-selftest-") as tmp:
        root = Path(tmp)
        data = root / "data"
        data.mkdir()
        expected_sums = {}
        for i in range(FILES):
            content = f"batchmill self-test file {i}\n" * (i + 1)
            (data / f"file {i:02d}.txt").write_text(content)
            expected_sums[f"file {i:02d}.txt"] = hashlib.sha256(content.encode()).hexdigest()
        # Workers of another engine in this process (the window's pool, kept between jobs) are not ours.
        others = {p.pid for p in multiprocessing.active_children() if p.name.startswith("batchmill-worker")}
        engine = Engine(home=root / "home")
        try:
            progress("checksum job in worker processes…")
            spec = JobSpec("checksum", (str(data),), str(root / "sums"), workers=WORKERS)
            state, pids = _run(engine, engine.submit(spec))
            manifest = root / "sums" / "data" / "SHA256SUMS"
            got = _read_manifest(manifest)
            report.add("checksum job", state is JobState.COMPLETED and got == expected_sums,
                       f"{len(got)}/{FILES} digests match" if got else f"job ended {state.value}, no manifest")
            progress("dill-shipped lambda in worker processes…")
            lam_spec = JobSpec("python", (str(data),), str(root / "lambda"), workers=WORKERS)
            proc = _LambdaProcessor()
            params = {"salt": "ok"}
            from batchmill.core.payload import dumps_checked, payload_key

            payload = dumps_checked(proc.task(params), "the self-test lambda")
            job_id = "selftest" + format(int(time.time() * 1000) % 10**8, "08d")
            engine._start_prepared(PreparedJob(job_id, lam_spec, proc, params, _roots(lam_spec), payload,
                                               payload_key(payload), "new")).result()  # journaled by the engine
            state2, pids2 = _run(engine, job_id)
            outs = sorted((root / "lambda" / "data").glob("*.txt"))
            good = all(o.read_text() == f"ok:{(data / o.name).read_text()[::-1]}" for o in outs)
            report.add("lambda shipped with dill", state2 is JobState.COMPLETED and len(outs) == FILES and good,
                       f"{len(outs)}/{FILES} outputs correct" if good else "outputs missing or wrong")
            workers_seen = (pids | pids2 | {f.result for f in engine.journal.files(job_id) if f.result}) - others
            report.add("worker processes", 0 < len(workers_seen) <= WORKERS and os.getpid() not in workers_seen,
                       f"{len(workers_seen)} distinct worker processes for {WORKERS} workers, none is this process")
        finally:
            engine.close()
        leftover = [p for p in multiprocessing.active_children()
                    if p.name.startswith("batchmill-worker") and p.pid not in others]
        report.add("clean shutdown", not leftover, f"{len(leftover)} worker processes left running")
    return report


def _run(engine: Any, job_id: str) -> tuple[JobState, set[int]]:
    pids: set[int] = set()
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            event: Event = engine.events.get(timeout=0.5)
        except Exception:  # noqa: BLE001 - queue.Empty; keep waiting until the deadline
            continue
        if isinstance(event, WorkerStatus) and event.pid:
            pids.add(event.pid)
        if isinstance(event, WorkerStatus) or not isinstance(event, JobFinished):
            _count_children(pids)
        if isinstance(event, JobFinished) and event.job_id == job_id:
            return event.state, pids
    return JobState.ERROR, pids


def _count_children(pids: set[int]) -> None:
    pids.update(p.pid for p in multiprocessing.active_children()
                if p.name.startswith("batchmill-worker") and p.pid is not None)


def _read_manifest(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    return {line.split("  ", 1)[1]: line.split("  ", 1)[0] for line in path.read_text().splitlines() if line}


def _roots(spec: Any) -> list[Any]:
    from batchmill.core.processors.base import RootOutput

    return [RootOutput(i, Path(p), True, Path(spec.output) / Path(p).name) for i, p in enumerate(spec.inputs)]


