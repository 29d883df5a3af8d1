"""Bookkeeping of the one job the engine is running: what is pending, what is out,
what each outcome means, and what gets journaled. Only the engine thread touches it."""

from __future__ import annotations

import heapq
import itertools
import operator
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from batchmill.core.batching import BatchSizer
from batchmill.core.freshness import OutputLedger
from batchmill.core.events import (
    Event, FailureKind, FileFailed, FileFinished, FileStatus, JobProgress, JobState, Log,
)
from batchmill.core.journal import Journal, to_us
from batchmill.core.messages import Failure, Results
from batchmill.core.outputs import remove_job_temporaries, remove_quietly, tmp_name_for, tmp_path_for
from batchmill.core.plan import FAILED, PENDING, SKIPPED, PlannedFile, iter_plan
from batchmill.core.prepare import PreparedJob
from batchmill.core.progress import RateMeter, best_total, eta_s
from batchmill.core.scan import split_skip
from batchmill.core.processors.base import Processor
from batchmill.core.spec import Overwrite, parse_halt
from batchmill.core.sidecar import sidecar_job, sidecar_tmp
from batchmill.core.spill import SpillSorter

JOURNAL_FLUSH_S = 0.5
JOURNAL_FLUSH_ROWS = 5000
PLAN_CHUNK = 5000  # files journaled per scan step at most
# Files held in memory at most while a job runs. The scan journals every file it finds; past
# this many unfinished ones, the rest wait in the journal and are read back as files finish,
# so what the engine keeps per file does not grow with the job (a million files, flat memory).
WINDOW = 20_000
SCAN_SKIPS_KEPT = 1000  # entries the scan left out whose path and reason are kept (all are counted)
SCAN_SKIPS_LOGGED = 20  # of them, told in the log as the scan finds them
PLAN_STEP_S = 0.005  # and for about this long at most: the workers' news waits while the scan runs


@dataclass(slots=True)
class InFlight:
    file_ids: list[int]
    pending: set[int]  # sent, not yet reported


# A file not finished yet: (root index, input, output or None). A plain tuple of str and int on
# purpose: the cyclic garbage collector stops tracking such tuples, while 100,000 objects of a class
# made every full collection of a window's process take 30 ms with the window's thread stalled.
Entry = tuple[int, str, "str | None"]


class JobRun:
    def __init__(self, prepared: PreparedJob, journal: Journal, emit: Callable[[Event], None],
                 file_events: bool = True) -> None:
        self.file_events = file_events
        self.prepared = prepared
        self.job_id = prepared.job_id
        self.spec = prepared.spec
        self.journal = journal
        self.emit = emit
        self.entries: dict[int, Entry] = {}
        self.attempts: dict[int, int] = {}  # attempts so far of the unfinished files that failed before
        self.pending: deque[int] = deque()
        self.sizer = BatchSizer()
        self.total = self.done = self.failed = self.skipped = 0
        self.done_records: list[tuple[Any, ...]] = []  # journal records not written yet
        self.failed_records: list[tuple[Any, ...]] = []
        self.state = JobState.PLANNING
        self.planning: Iterator[PlannedFile] | None = None
        self.started_at = time.monotonic()
        self.elapsed_before = 0.0
        self.finished_now = 0  # files finished in this session (for the rate)
        self.meter = RateMeter()  # runs while the job is RUNNING (the engine's set_state says)
        self.last_flush = time.monotonic()
        self.unpinned_deaths = 0
        self.last_death = ""
        self.inflight: dict[int, InFlight] = {}
        self.halt_count, self.halt_pct = parse_halt(self.spec.halt_after) if self.spec.halt_after else (None, None)
        self.halt_base = (0, 0)  # (failed, files) before this session; see _load_from_journal
        self._next_idx = 0
        processor, params = prepared.processor, prepared.params
        # (root, input, result) of every file done, for a processor with a final step of its own
        # (checksum's manifest): kept as files finish, so the job's end reads no journal back.
        self.keeps_results = type(processor).finalize is not Processor.finalize
        # (root, input, idx, result), sorted on disk past a bound: by (root, input), the order a final
        # step wants (checksum's manifest: by name), so it need not sort them again (idx: never two alike)
        self.results: SpillSorter[tuple[int, str, int, Any]] = SpillSorter(None)
        self.backlog_from: int | None = None  # first file planned but not in memory (see WINDOW)
        self.backlog_row = 0  # the journal's planned records are read back after this row
        self.backlog_buffer: deque[list[Any]] = deque()  # records of the row read last, not taken yet
        # what each file done was made from (provenance; --overwrite changed reads it)
        self.ledger = OutputLedger(journal, self.job_id, self.spec, processor, params, prepared.payload_key,
                                   prepared.roots, prepared.mode == "new")
        self.unreadable: dict[str, str] = {}  # folders the scan could not read -> why (see fail_unreadable)
        self.scan_skipped = 0  # entries the scan left out (a broken link, a special file), and
        self.scan_skips: list[tuple[str, str]] = []  # (path, why) of the first SCAN_SKIPS_KEPT
        # --provenance sidecar: what each output's sidecar says alike, sent with every batch
        self.sidecar = sidecar_job(prepared, self.ledger.recipe) if self.spec.sidecars else None
        # without them, an output made over an old one takes the old one's sidecar with it
        self.drop_sidecars = not self.spec.sidecars and self.spec.overwrite in (Overwrite.REPLACE, Overwrite.CHANGED)
        probe = processor.output_name(params, "probe.name")
        self.may_collide = probe is not None and (probe != "probe.name" or self.spec.name_template is not None)
        # Folders of outputs that were not made: a worker makes an output's folder before the
        # processor runs (it writes there); the job removes those left empty (remove_empty_folders).
        self.unmade_folders: set[str] | None = set() if probe is not None else None

    # -- planning ---------------------------------------------------------
    def begin(self, log: Callable[[str], None]) -> None:
        def skipped(message: str) -> None:
            # the first few are told as they come; the rest are counted (the summary has them),
            # not streamed a line each: 100,000 broken links are not 100,000 lines of the log
            if self.scan_skipped < SCAN_SKIPS_LOGGED:
                log(message)
            elif self.scan_skipped == SCAN_SKIPS_LOGGED:
                log(f"… more entries skipped by the scan are counted, not told one by one "
                    f"(the job's summary has them: batchmill show {self.job_id})")
            self.scan_skipped += 1
            if len(self.scan_skips) < SCAN_SKIPS_KEPT:
                path, why = split_skip(message)
                self.scan_skips.append((path or "", why))

        plan = self.ledger.filter(
            iter_plan(self.spec, self.prepared.processor, self.prepared.params, self.prepared.roots, log,
                      self.unreadable, skipped),
            self.keeps_results, log)
        if self.prepared.mode == "new":
            self.planning = plan
            return
        known = self._load_from_journal()
        job = self.journal.get_job(self.job_id)
        if job is not None and job.planned:  # the scan is not run again: what it left out is as journaled
            self.scan_skipped, self.scan_skips = job.scan_skipped, list(job.scan_skips)
        if job is not None and not job.planned:
            # The run died while files ran during the scan: scan again, adding only what it never saw.
            self.planning = (planned for planned in plan if planned.src not in known)

    def plan_step(self) -> bool:
        """Plan up to PLAN_CHUNK files (or PLAN_STEP_S of scanning); True when planning is complete.
        Raises PlanError."""
        assert self.planning is not None
        rows = []
        entries, pending, idx = self.entries, self.pending, self._next_idx
        backlog_before = self.backlog_from
        until = time.perf_counter() + PLAN_STEP_S
        for root, src, dst, status, size in self.planning:
            rows.append((idx, root, src, dst, status, size if size >= 0 else None))
            if status == SKIPPED:
                self.skipped += 1
                if self.file_events:
                    self.emit(FileFinished(self.job_id, idx, src, dst, True, 0.0))
            elif status == FAILED:
                self.fail_unreadable(idx, src)
            elif self.backlog_from is None and len(entries) < WINDOW:
                entries[idx] = (root, src, dst)
                pending.append(idx)
            elif self.backlog_from is None:
                self.backlog_from = idx  # this file and every one after it waits in the journal
            idx += 1
            if len(rows) >= PLAN_CHUNK or (idx & 255 == 0 and time.perf_counter() > until):
                break
        else:
            self.planning = None
        self.total += idx - self._next_idx
        self._next_idx = idx
        if rows:
            row = self.journal.add_files(self.job_id, rows)
            if backlog_before is None and self.backlog_from is not None and row is not None:
                self.backlog_row = row - 1  # top_up reads back from this row: the ones before are in memory
        if self.planning is None:
            if self.scan_skipped:
                self.journal.set_scan_skips(self.job_id, self.scan_skipped, self.scan_skips)
            self.journal.mark_planned(self.job_id)
        return self.planning is None

    def fail_unreadable(self, idx: int, src: str) -> None:
        """An entry the scan could not read (a folder): failed at once, never sent to a worker."""
        error = self.unreadable.pop(src, "it cannot be read")
        kind = FailureKind.INPUT_ERROR
        self.emit(FileFailed(self.job_id, idx, src, kind, error, "", 1, False))
        self.failed += 1
        self.finished_now += 1
        self.failed_records.append((idx, 1, kind.value, error, "", 0, None))

    def _load_from_journal(self) -> set[str]:
        """Pick up a journaled job: done files stay done, the rest go out again. Returns the inputs known."""
        job = self.journal.get_job(self.job_id)
        self.elapsed_before = job.elapsed if job else 0.0
        known: set[str] = set()
        for rec in self.journal.files(self.job_id):
            known.add(rec.input)
            self._next_idx = max(self._next_idx, rec.idx + 1)
            self.total += 1
            if rec.state is FileStatus.DONE:
                self.done += 1
                if self.keeps_results:
                    self.results.add((rec.root, rec.input, rec.idx, rec.result))
            elif rec.state is FileStatus.SKIPPED:
                self.skipped += 1
                if self.keeps_results and self.ledger.freshness is not None:  # up to date: its result counts
                    self.ledger.reused.add((rec.root, rec.input,
                                               self.ledger.recorded_result(rec.root, rec.input, rec.output)))
            elif rec.state is FileStatus.FAILED:
                self.failed += 1
            else:
                if rec.output is not None:
                    self._clean_up(tmp_path_for(Path(rec.output), self.job_id))  # left by a run that died
                    if self.sidecar is not None:
                        self._clean_up(Path(sidecar_tmp(rec.output, self.job_id)))
                self.entries[rec.idx] = (rec.root, rec.input, rec.output)
                self.pending.append(rec.idx)
        for root in self.prepared.roots:  # a final step's temporaries (a manifest being written)
            for problem in remove_job_temporaries(root.output, self.job_id):
                self.warn(problem)
        # --halt-after counts this session's failures: a resumed halted job must not halt at once.
        self.halt_base = (self.failed, self.total - len(self.pending))
        return known

    # -- handing out ------------------------------------------------------
    def take(self, count: int) -> tuple[list[int], list[str], list[str | None] | None, list[str | None] | None]:
        """The next ``count`` pending files as columns: ids, inputs, outputs, temporary names
        (the last two None when none of them makes an output)."""
        pending, entries, job_id = self.pending, self.entries, self.job_id
        ids = [pending.popleft() for _ in range(min(count, len(pending)))]
        files = [entries[idx] for idx in ids]
        srcs = [entry[1] for entry in files]
        if all(entry[2] is None for entry in files):
            return ids, srcs, None, None
        dsts = [entry[2] for entry in files]
        tmps = [tmp_name_for(dst, job_id) if dst is not None else None for dst in dsts]
        return ids, srcs, dsts, tmps

    def top_up(self) -> None:
        """Bring files waiting in the journal into memory once the window is half empty."""
        if self.backlog_from is None or len(self.entries) > WINDOW // 2:
            return
        entries, pending, buffer = self.entries, self.pending, self.backlog_buffer
        while len(entries) < WINDOW:
            if not buffer:
                chunk = self.journal.planned_after(self.job_id, self.backlog_row)
                if chunk is None:
                    if self.planning is None:
                        self.backlog_from = None  # all read back: the scan had ended
                    return
                self.backlog_row, records = chunk
                first = self.backlog_from
                buffer.extend(record for record in records if record[0] >= first and record[4] == PENDING)
                continue
            idx, root, src, dst, _state, _size = buffer.popleft()
            entries[idx] = (root, src, dst)
            pending.append(idx)
            self.backlog_from = idx + 1

    def requeue(self, idx: int) -> None:
        self.pending.appendleft(idx)

    def sent(self, batch_id: int, file_ids: list[int]) -> None:
        self.inflight[batch_id] = InFlight(file_ids, set(file_ids))

    def holds(self, batch_id: int) -> bool:
        return batch_id in self.inflight

    def on_results(self, message: Results) -> None:
        batch = self.inflight.get(message.batch_id)
        if batch is None:
            return  # a batch of a job that was stopped: its files were given back already
        failures = dict(message.failures)
        # The loop runs once per file: what it needs is looked up once.
        pending, entries, attempts_of, records = batch.pending, self.entries, self.attempts, self.done_records
        results = self.results if self.keeps_results else None
        ledger = self.ledger
        ledger_done = None if ledger.by_reference else ledger.done
        unmade = self.unmade_folders
        ids = message.file_ids
        if (not failures and not attempts_of and ledger_done is None and not self.file_events
                and (unmade is None or all(message.made)) and pending.issuperset(ids)):
            self._all_done_first_time(batch, message)  # the usual batch: the same as the loop below, in bulk
            return
        done = 0
        for file_id, duration, value, size, made in zip(message.file_ids, message.durations, message.values,
                                                        message.sizes, message.made):
            if file_id not in pending:
                continue  # reported already (a Dask batch's final report repeats its partial ones)
            pending.discard(file_id)
            if not made and unmade is not None:
                self.note_unmade(file_id)
            if failures and file_id in failures:
                self.fail(file_id, failures[file_id], duration, size)
                continue
            root, src, dst = entries.pop(file_id)
            if ledger_done is not None:
                ledger_done(root, src, dst, made, value, size)
            elif not made and dst is not None:
                ledger.unmade.append(file_id)
            if results is not None:
                results.add((root, src, file_id, value))
            attempts = attempts_of.pop(file_id, 0) + 1 if attempts_of else 1
            records.append((file_id, attempts, to_us(duration), size, value))
            if self.file_events:
                self.emit(FileFinished(self.job_id, file_id, src, dst if made else None, False, duration, value))
            done += 1
        self.done += done
        self.finished_now += done
        if message.file_ids:
            self.unpinned_deaths = 0  # a worker got as far as finishing a file
            self.sizer.observe(sum(message.durations), len(message.file_ids))
        if message.batch_done:
            del self.inflight[message.batch_id]

    def _all_done_first_time(self, batch: InFlight, message: Results) -> None:
        """on_results for a batch whose files all ran once, were all done, and made their outputs
        (or make none), without events per file: what the loop does per file, in list operations.
        A tiny file's bookkeeping is engine time the workers wait for (issue 14)."""
        ids = message.file_ids
        batch.pending.difference_update(ids)
        pop = self.entries.pop
        taken = [pop(file_id) for file_id in ids]
        if self.keeps_results:
            self.results.extend(zip([entry[0] for entry in taken], [entry[1] for entry in taken], ids,
                                    message.values))
        self.done_records.extend(zip(ids, itertools.repeat(1), [to_us(d) for d in message.durations],
                                     message.sizes, message.values))
        self.done += len(ids)
        self.finished_now += len(ids)
        if ids:
            self.unpinned_deaths = 0  # a worker got as far as finishing a file
            self.sizer.observe(sum(message.durations), len(ids))
        if message.batch_done:
            del self.inflight[message.batch_id]

    def note_unmade(self, file_id: int) -> None:
        entry = self.entries.get(file_id)
        if entry is not None and entry[2] is not None and self.unmade_folders is not None:
            self.unmade_folders.add(os.path.dirname(entry[2]))

    def remove_empty_folders(self) -> None:
        """Output folders made for outputs that never came, and left empty: a job that writes
        nothing leaves no folders behind. Never the output folder itself, never one with a file."""
        top = os.path.join(os.path.abspath(self.spec.output), "")
        for folder in sorted(self.unmade_folders or (), key=len, reverse=True):
            folder = os.path.abspath(folder)
            while folder.startswith(top):
                try:
                    os.rmdir(folder)
                except FileNotFoundError:
                    pass
                except OSError:  # not empty (or not ours to remove): so are the folders above it
                    break
                folder = os.path.dirname(folder)
        self.unmade_folders = set() if self.unmade_folders is not None else None

    def lost(self, batch_id: int, current: int | None, failure: Failure | None, unexplained: bool = False) -> None:
        """A batch that will never report again: ``current`` fails with ``failure`` (if given),
        the other unreported files go out again, first in line."""
        batch = self.inflight.pop(batch_id, None)
        if batch is None:
            return
        if current is not None:
            self.remove_tmp(current)  # it was being written when the worker went
        if unexplained:
            self.unpinned_deaths += 1
        elif current is not None:
            self.unpinned_deaths = 0  # the worker had loaded the processor and started a file
        for file_id in reversed(batch.file_ids):
            if file_id in batch.pending and not (failure is not None and file_id == current):
                self.requeue(file_id)
        if failure is not None and current is not None and current in batch.pending:
            self.fail(current, failure)

    def returned(self, batch_id: int, file_ids: tuple[int, ...]) -> None:
        """A worker gave back files of a batch it had not started: they go out again, first in line."""
        batch = self.inflight.pop(batch_id, None)
        if batch is None:
            return
        for file_id in reversed(file_ids):
            if file_id in batch.pending:
                self.requeue(file_id)

    # -- outcomes ---------------------------------------------------------
    def fail(self, idx: int, failure: Failure, duration: float = 0.0, size: int | None = None) -> None:
        src = self.entries[idx][1]
        attempts = self.attempts.get(idx, 0) + 1
        will_retry = attempts <= self.spec.retries
        self.emit(FileFailed(self.job_id, idx, src, failure.kind, failure.message, failure.traceback,
                             attempts, will_retry))
        if will_retry:
            self.attempts[idx] = attempts
            self.pending.append(idx)
            return
        del self.entries[idx]
        self.attempts.pop(idx, None)
        self.failed += 1
        self.finished_now += 1
        self.failed_records.append((idx, attempts, failure.kind.value, failure.message, failure.traceback,
                                    to_us(duration), size))

    def done_results(self) -> Iterator[tuple[int, str, Any]]:
        """(root index, input, result) of every file done, sorted by root index and input (see
        keeps_results); a file up to date (--overwrite changed) with its result as recorded when made."""
        done = ((root, src, value) for root, src, _idx, value in self.results.sorted())
        reused = self.ledger.reused
        if not len(reused):
            yield from done
        else:  # both sorted by (root, input), which no two of them share
            yield from heapq.merge(done, reused.sorted(), key=operator.itemgetter(0, 1))

    def should_halt(self) -> bool:
        failed, total = self.failed - self.halt_base[0], self.total - self.halt_base[1]
        if self.halt_count is not None:
            return failed >= self.halt_count
        if self.halt_pct is not None and total > 0:
            return failed * 100.0 >= self.halt_pct * total
        return False

    def input_of(self, idx: int) -> str:
        entry = self.entries.get(idx)
        return entry[1] if entry else "?"

    def remove_tmp(self, idx: int) -> None:
        entry = self.entries.get(idx)
        if entry is not None and entry[2] is not None:
            self._clean_up(tmp_path_for(Path(entry[2]), self.job_id))
            if self.sidecar is not None:
                self._clean_up(Path(sidecar_tmp(entry[2], self.job_id)))

    def _clean_up(self, tmp: Path) -> None:
        """A clean-up that fails is told, never raised: it concerns one file, not the job."""
        problem = remove_quietly(tmp)
        if problem:
            self.warn(problem)

    def warn(self, message: str) -> None:
        self.emit(Log("warning", message, self.job_id))

    # -- reporting --------------------------------------------------------
    @property
    def elapsed(self) -> float:
        return self.elapsed_before + time.monotonic() - self.started_at

    def counts(self) -> tuple[int, int, int, int]:
        return self.total, self.done, self.failed, self.skipped

    def progress_event(self) -> JobProgress:
        # Rate over recent running time, paused time excluded; no ETA while the total still grows.
        self.meter.observe(self.finished_now)
        rate = self.meter.rate()
        scanning = self.planning is not None
        eta = eta_s(best_total(self.total, scanning), self.done + self.failed + self.skipped, rate)
        return JobProgress(self.job_id, self.total, self.done, self.failed, self.skipped, rate, eta, scanning)

    def flush(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and len(self.done_records) < JOURNAL_FLUSH_ROWS and now - self.last_flush < JOURNAL_FLUSH_S:
            return
        done, failed = self.done_records, self.failed_records
        self.last_flush = now
        if done or failed:
            # Records and counts go in one transaction, and the records are let go only once it
            # is written: a failed write leaves them for the next one, so the counts the journal
            # holds are never ahead of its records.
            done_row = self.journal.record_files(self.job_id, done, failed, self.counts(), self.elapsed)
            self.done_records, self.failed_records = [], []
            self.ledger.flush(done_row)
        else:
            self.journal.store_counts(self.job_id, self.counts(), self.elapsed)

    @property
    def finished(self) -> bool:
        return (self.planning is None and self.backlog_from is None and not self.pending and not self.entries
                and not self.inflight)


__all__ = ["JobRun", "FailureKind"]

