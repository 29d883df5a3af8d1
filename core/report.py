"""Following a job on a terminal: a live bar on a TTY, plain lines otherwise,
a summary at the end, and the ``--json`` object scripts read."""

from __future__ import annotations

import json
import queue
import sys
import time
from dataclasses import dataclass, field
from collections.abc import Callable
from typing import Any, TextIO

from batchmill.core.events import (
    EngineStopped, Event, FileFailed, FileFinished, JobFinished, JobProgress, JobStarted, JobState, JobStateChanged,
    Log,
)
from batchmill.core.exit_status import EXIT_NO_FILES, exit_status
from batchmill.core.progress import format_eta, view

PLAIN_EVERY_S = 2.0
SHOWN_FAILURES = 50


@dataclass
class Outcome:
    job_id: str
    state: JobState = JobState.QUEUED
    total: int = 0
    done: int = 0
    failed: int = 0
    skipped: int = 0
    elapsed_s: float = 0.0
    error: str | None = None
    failures: list[dict[str, str]] = field(default_factory=list)
    scan_skipped: int = 0  # entries the scan left out (a broken link, a special file): not among total
    scan_skips: list[dict[str, str]] = field(default_factory=list)  # {"path", "reason"} of the first of them

    def exit_code(self) -> int:
        return exit_status(self.state, self.total, self.failed)

    def as_json(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "state": self.state.value, "total": self.total, "done": self.done,
                "failed": self.failed, "skipped": self.skipped, "elapsed_s": round(self.elapsed_s, 3),
                "error": self.error, "failures": self.failures,
                "scan_skipped": self.scan_skipped, "scan_skips": self.scan_skips}


SHOWN_SCAN_SKIPS = 20


def scan_skip_lines(count: int, skips: list[tuple[str, str]], job_id: str, shown: int = SHOWN_SCAN_SKIPS) -> list[str]:
    """``  PATH: why`` for the first ``shown`` entries the scan left out, and how many more."""
    lines = [f"  {path}: {why}" if path else f"  {why}" for path, why in skips[:shown]]
    if count > min(shown, len(skips)):
        lines.append(f"  … and {count - min(shown, len(skips))} more (batchmill show {job_id} --json)")
    return lines


class Follower:
    """Consumes engine events for one job and shows them; returns the Outcome when it ends."""

    def __init__(self, job_id: str, stream: TextIO | None = None, quiet: bool = False, verbose: bool = False) -> None:
        self.outcome = Outcome(job_id)
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.verbose = verbose  # a line per file done or skipped (the engine must send FileFinished events)
        self.live = not quiet and self.stream.isatty()
        self._bar: Any = None
        self._task: Any = None
        self._last_plain = 0.0
        self.engine_error: str | None = None  # why the engine thread stopped, if it said

    def follow(self, events: queue.SimpleQueue[Event], alive: Callable[[], bool] | None = None) -> Outcome:
        """Until the job ends. ``alive`` (the engine's): when its thread is gone and the job never
        finished, nothing more will come — the job ends as an error, never as a hang."""
        self._open()
        try:
            while True:
                try:
                    event = events.get(timeout=0.2)
                except queue.Empty:
                    if alive is not None and not alive() and events.empty():
                        return self._engine_gone()
                    continue
                if self.handle(event):
                    return self.outcome
        finally:
            self._close()

    def _engine_gone(self) -> Outcome:
        out = self.outcome
        out.state = JobState.ERROR
        out.error = self.engine_error or "the engine stopped before the job finished"
        return out

    def handle(self, event: Event) -> bool:
        out = self.outcome
        if getattr(event, "job_id", out.job_id) not in (out.job_id, None):
            return False
        if isinstance(event, JobProgress):
            out.total, out.done, out.failed, out.skipped = event.total, event.done, event.failed, event.skipped
            self._show_progress(event)
        elif isinstance(event, JobStarted) and not self.quiet:
            # While the scan runs its count is only what was found so far: not the job's size.
            files = f"scanning the inputs ({event.total} files found so far)" if event.scanning \
                else f"{event.total} files"
            self._say(f"job {out.job_id}: {files}, {event.workers} workers"
                      + (f" ({event.done} already done)" if event.done else ""))
        elif isinstance(event, FileFinished):
            if self.verbose:
                arrow = f" -> {event.output}" if event.output else ""
                self._say(f"skipped: {event.input}{arrow} (exists)" if event.skipped
                          else f"done: {event.input}{arrow} ({event.duration_s:.2f} s)")
        elif isinstance(event, FileFailed):
            verb = "failed, will retry" if event.will_retry else "FAILED"
            self._say(f"{verb}: {event.input}: {event.error}")
            if not event.will_retry:
                out.failures.append({"input": event.input, "error": event.error, "kind": event.kind.value})
        elif isinstance(event, Log):
            if event.level != "info" or not self.quiet:
                self._say(event.message if event.level == "info" else f"{event.level}: {event.message}")
        elif isinstance(event, JobStateChanged):
            out.state = event.state
        elif isinstance(event, EngineStopped):
            self.engine_error = event.error
        elif isinstance(event, JobFinished):
            out.state, out.total, out.done = event.state, event.total, event.done
            out.failed, out.skipped, out.elapsed_s, out.error = event.failed, event.skipped, event.elapsed_s, event.error
            out.scan_skipped = event.scan_skipped
            out.scan_skips = [{"path": path, "reason": why} for path, why in event.scan_skips]
            return True
        return False

    def summary(self) -> str:
        out = self.outcome
        if out.state is JobState.ERROR:
            return f"error: {out.error}"
        if out.error and self.outcome.exit_code() == EXIT_NO_FILES:
            return f"{out.error} (job {out.job_id})"
        lines = [f"{out.state.value}: {out.done} done, {out.failed} failed, {out.skipped} skipped "
                 f"of {out.total} files in {out.elapsed_s:.1f} s (job {out.job_id})"]
        if out.failures:
            lines.append("failed files:")
            for failure in out.failures[:SHOWN_FAILURES]:
                lines.append(f"  {failure['input']}: {failure['error']}")
            if len(out.failures) > SHOWN_FAILURES:
                lines.append(f"  … and {len(out.failures) - SHOWN_FAILURES} more (batchmill show {out.job_id})")
        if out.scan_skipped:
            lines.append(f"{out.scan_skipped} {'entry' if out.scan_skipped == 1 else 'entries'} skipped by the scan "
                         "(not files of the job):")
            lines += scan_skip_lines(out.scan_skipped, [(s["path"], s["reason"]) for s in out.scan_skips],
                                     out.job_id)
        if out.state in (JobState.INTERRUPTED, JobState.HALTED, JobState.CANCELLED):
            lines.append(f"continue it with: batchmill resume {out.job_id}")
        elif out.failed:
            lines.append(f"run the failed files again with: batchmill retry {out.job_id}")
        return "\n".join(lines)

    def as_json(self) -> str:
        return json.dumps(self.outcome.as_json())

    # -- display ----------------------------------------------------------
    def _open(self) -> None:
        if not self.live:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        # The rate and ETA are the engine's (batchmill.core.progress: paused time excluded), not
        # rich's own estimate over wall time.
        self._bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                             TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("{task.fields[eta]}"),
                             console=Console(file=self.stream), transient=False)
        self._bar.start()
        self._task = self._bar.add_task("files", total=None, rate="", eta="")

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.stop()

    def _show_progress(self, event: JobProgress) -> None:
        finished = event.done + event.failed + event.skipped
        shown = view(event.total, finished, event.scanning, event.files_per_s)
        rate = f"{event.files_per_s:,.1f} files/s" if 0 < event.files_per_s < 10 else f"{event.files_per_s:,.0f} files/s"
        eta = f"ETA {format_eta(shown.eta_s)}" if shown.eta_s is not None else ""
        if self._bar is not None:
            description = "files" if not event.failed else f"files ([red]{event.failed} failed[/red])"
            if event.scanning:
                description = f"scanning… {event.total:,} found"
            self._bar.update(self._task, total=shown.total or None, completed=finished, rate=rate, eta=eta,
                             description=description)
            return
        now = time.monotonic()
        if self.quiet or now - self._last_plain < PLAIN_EVERY_S:
            return
        self._last_plain = now
        of = f"{finished}/{shown.total} files" if shown.total is not None else \
            f"{finished} files done, scanning… {event.total} found so far"
        self._say(f"{of} ({event.failed} failed), {rate}" + (f", {eta}" if eta else ""))

    def _say(self, text: str) -> None:
        if self._bar is not None:
            self._bar.console.print(text, markup=False, highlight=False)
        else:
            print(text, file=self.stream, flush=True)
