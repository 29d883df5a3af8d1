"""A timed sample, for an estimate where the journal has no history of the processor: a few of
the job's files run for real, by a worker process of their own, into a scratch folder.

Which files: of those the job would run, the smallest, the one at a quarter and the median by
size (``SamplePicker`` keeps a bounded random reservoir as the preview streams past, so a folder
of a million files costs a thousand entries), smallest first, until SAMPLE_BUDGET_S is spent.
How: the worker is the pool's own (``batchmill.core.worker``), so a file's time is measured as a
job's files are (the history's measure), and a crash, a hang or a print stays in that process;
past the budget it is killed, and a file it was still on counts as taking at least that long.
Where: outputs go to a private scratch folder (``batchmill.core.scratch``) that is removed
afterwards, never the job's output folder; the processor is handed copies of its files there (a
preview changes nothing: a processor that writes onto its input, or beside it, writes into the
scratch folder), up to SAMPLE_COPY_MAX bytes of them in all, smallest first.

The preview runs no processor unless asked: ``batchmill run … --dry-run --estimate sample``,
``batchmill.preview(…, estimate="sample")``, the preview window's "Time a sample" button.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any

from batchmill.core.estimate import CostModel, fit_samples
from batchmill.core.messages import PayloadBroken, Results, RunBatch, Started, Stop
from batchmill.core.outputs import tmp_name_for
from batchmill.core.payload import PayloadError, dumps_checked, payload_key
from batchmill.core.processors.base import Processor
from batchmill.core.scratch import new_scratch_root

SAMPLE_FILES = 3
SAMPLE_BUDGET_S = 2.0  # the files' own time, after the worker has started
START_BUDGET_S = 20.0  # for the worker to start and load the processor (a cold interpreter, imports)
RESERVOIR = 1000
STOP_POLL_S = 0.1  # how soon a stop() is noticed
SAMPLE_COPY_MAX = 1 << 30  # bytes of the job's files copied into the scratch folder for a sample
SAMPLE_JOB = "sample00"  # the temporaries' tag (batchmill.core.outputs)


@dataclass(frozen=True)
class Candidate:
    src: str
    dst: str | None  # the output the job would write (its name is kept in the scratch folder)
    size: int


class SamplePicker:
    """A bounded random reservoir of the files a job would run, and the few to time from it."""

    def __init__(self, seed: int | None = None) -> None:
        self.kept: list[Candidate] = []
        self.seen = 0
        self._random = random.Random(seed)

    def add(self, src: str, dst: str | None, size: int) -> None:
        if size < 0:
            return
        self.seen += 1
        if len(self.kept) < RESERVOIR:
            self.kept.append(Candidate(src, dst, size))
            return
        slot = self._random.randrange(self.seen)
        if slot < RESERVOIR:
            self.kept[slot] = Candidate(src, dst, size)

    def picks(self, count: int = SAMPLE_FILES) -> list[Candidate]:
        """The smallest, the quarter and the median by size (distinct files), smallest first."""
        ordered = sorted(self.kept, key=lambda c: (c.size, c.src))
        if not ordered:
            return []
        indexes = sorted({0, len(ordered) // 4, len(ordered) // 2})[:count]
        return [ordered[i] for i in indexes]


@dataclass(frozen=True)
class SampleRun:
    """What the sample measured: (seconds, size) of each file timed, and how it went."""

    timed: list[tuple[float, int]]
    cut_short: bool  # the budget ran out (a file still running counts with the time it had)
    error: str | None = None  # the sample could not run (the processor does not load, the worker died)
    failed: int = 0  # files of the sample that failed (timed all the same)

    def model(self) -> CostModel | None:
        if not self.timed:
            return None
        return fit_samples(self.timed, 0, "a timed sample", sampled=True)


def time_sample(processor: Processor, params: dict[str, Any], picks: list[Candidate],
                budget_s: float = SAMPLE_BUDGET_S, stop: Callable[[], bool] | None = None) -> SampleRun:
    """Run ``picks`` through one worker process into a scratch folder, for at most ``budget_s`` of
    their own time (``stop``: polled, ends it early, as a window closing does); the scratch
    folder is removed whatever happens."""
    if not picks:
        return SampleRun([], False, "no file to time")
    try:
        payload = dumps_checked(processor.task(params), f"processor {processor.name!r}")
        scratch = new_scratch_root()
    except (PayloadError, OSError) as exc:  # told with the estimate: a preview never ends in a traceback
        return SampleRun([], False, str(exc))
    try:
        try:
            picks = _copies(picks, scratch)
        except OSError as exc:
            return SampleRun([], False, f"the sample's files could not be copied to a scratch folder: "
                                        f"{exc.strerror or exc}")
        if not picks:
            return SampleRun([], False, f"the files are too large to copy for a sample "
                                        f"(more than {SAMPLE_COPY_MAX >> 20} MiB)")
        return _run(payload, picks, scratch, budget_s, stop or _never)
    except OSError as exc:  # the worker could not be started
        return SampleRun([], False, f"the sample's worker could not start: {exc}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _copies(picks: list[Candidate], scratch: str) -> list[Candidate]:
    """The picks as copies in the scratch folder, each under its own name in a folder of its own
    (the processor may go by the name), smallest first while they fit in SAMPLE_COPY_MAX."""
    copied: list[Candidate] = []
    total = 0
    problem: OSError | None = None
    for i, pick in enumerate(picks):
        total += pick.size
        if total > SAMPLE_COPY_MAX:
            break
        folder = os.path.join(scratch, "inputs", str(i))
        os.makedirs(folder)
        copy = os.path.join(folder, os.path.basename(pick.src))
        try:
            shutil.copy2(pick.src, copy)
        except OSError as exc:  # that file is left out of the sample (it could not have run either)
            problem = exc
            total -= pick.size
            continue
        copied.append(Candidate(copy, pick.dst, pick.size))
    if not copied and problem is not None:
        raise problem
    return copied


def _never() -> bool:
    return False


def _run(payload: bytes, picks: list[Candidate], scratch: str, budget_s: float, stop: Callable[[], bool]) -> SampleRun:
    from batchmill.core.pool import spawn_worker
    from batchmill.core.procgroup import kill_group

    # File 0 warms the worker up (a processor's first call pays its lazy imports and caches, which a
    # job pays once per worker, not per file) and is not counted: the smallest file, run twice.
    files = [picks[0], *picks]
    dsts: list[str | None] = []
    for i, pick in enumerate(files):  # each output in a folder of its own, under the name the job gives it
        if pick.dst is None:
            dsts.append(None)
            continue
        folder = os.path.join(scratch, "outputs", str(i))
        os.makedirs(folder, exist_ok=True)
        dsts.append(os.path.join(folder, os.path.basename(pick.dst)))
    has_outputs = any(d is not None for d in dsts)
    batch = RunBatch(1, SAMPLE_JOB, payload_key(payload), payload, tuple(range(len(files))),
                     tuple(p.src for p in files), tuple(dsts) if has_outputs else None,
                     tuple(tmp_name_for(d, SAMPLE_JOB) if d else None for d in dsts) if has_outputs else None,
                     scratch)
    process, conn, _slot = spawn_worker(multiprocessing.get_context("spawn"), 0, scratch)
    timed: list[tuple[float, int]] = []
    reported = 0  # files reported back, the warm-up among them
    spent = 0.0  # their time
    started_at: float | None = None
    error: str | None = None
    cut_short = False
    failed = 0
    finished = False  # the worker is through the batch: it reads a Stop and exits by itself
    try:
        conn.send(batch)
        start_deadline = time.monotonic() + START_BUDGET_S
        while True:
            now = time.monotonic()
            deadline = started_at + budget_s if started_at is not None else start_deadline
            if now >= deadline:
                if started_at is None:
                    error = f"the worker did not start on the sample within {START_BUDGET_S:.0f} s"
                else:
                    cut_short = True
                    # the file it is on takes at least as long as it has had (the warm-up too, if no
                    # other file got that far: the sample says it was cut short)
                    timed.append((max(now - started_at - spent, 0.0), files[reported].size))
                break
            if stop():
                error = "stopped"
                break
            ready = wait([conn, process.sentinel], timeout=min(deadline - now, STOP_POLL_S))
            if conn not in ready:
                if process.sentinel in ready:
                    error = "the worker running the sample died"
                    break
                continue
            try:
                message = conn.recv()
            except (EOFError, OSError):  # its end of the pipe closed: it died (the sentinel may come later)
                error = "the worker running the sample died"
                break
            if isinstance(message, Started) and started_at is None:
                started_at = time.monotonic()
            elif isinstance(message, PayloadBroken):
                error = message.failure.message
                break
            elif isinstance(message, Results):
                if started_at is None:
                    started_at = time.monotonic() - sum(message.durations)
                failed += sum(1 for file_id, _ in message.failures if file_id > 0)  # timed all the same
                for file_id, duration in zip(message.file_ids, message.durations):
                    reported += 1
                    spent += duration
                    if file_id > 0:
                        timed.append((duration, files[file_id].size))
                if message.batch_done:
                    finished = True
                    break
    finally:
        _stop(process, conn, kill_group, finished)
    return SampleRun(timed, cut_short, error, failed)


def _stop(process: Any, conn: Any, kill_group: Any, finished: bool) -> None:
    try:
        conn.send(Stop())
    except OSError:
        pass
    process.join(timeout=1.0 if finished else 0.0)  # one still on a file would not read it
    if process.is_alive():
        kill_group(process.pid)  # the worker and whatever its processor started
        process.kill()
        process.join(timeout=5.0)
    conn.close()
