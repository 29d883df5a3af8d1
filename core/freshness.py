"""Up to date, not merely "exists": ``--overwrite changed``, and the records that decide it.

A file is up to date when the journal's row for its output (``batchmill.core.provenance``)
says it was made from this very input (same size and mtime, or the same content hash when
asked for), by the same processor, version, parameters and code, and the output is still
the file that was made (same size and mtime). Anything else runs again, and the verdict
says why. The check costs a stat of the input (and of the output) per file, on the engine
thread while it scans, and reading the records: those the last jobs logged and no reader has
folded into the table yet, decoded once for the whole check (ProvenanceStore.logged), else
the table's, a few hundred files to a query.

``OutputLedger`` is the running job's side: it takes the up-to-date files out of the plan
(they count as skipped and keep their recorded result, so a per-folder step such as the
checksum manifest still covers them), and records every file done as it finishes.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from batchmill.core.journal import Journal
from batchmill.core.payload import dumps_checked, payload_key
from batchmill.core.plan import PENDING, SKIPPED, PlannedFile
from batchmill.core.processors.base import Processor, RootOutput
from batchmill.core.provenance import (
    ROW_COLUMNS, LoggedRecords, OutputRecord, ProvenanceStore, Recipe, Row, make_recipe, record_of_row, target_for,
)
from batchmill.core.sidecar import hash_file, sidecar_path
from batchmill.core.spec import JobSpec, Overwrite
from batchmill.core.spill import SpillSorter

# Inputs whose stat (taken when checked) is kept until they finish: beyond this many, a file's
# input is stat-ed again when it finishes, so memory stays flat in a first run of a million files
# (an input edited while it runs can then pass for up to date; below the bound it cannot).
CHECKED_KEPT = 100_000
# Records logged since the last fold that a check reads as they are (ProvenanceStore.logged),
# held in memory for the check (~0.5 KiB each); past this many they are folded, as before.
LOGGED_READ = 500_000
Stat = tuple[int, int]  # (size, mtime in ns)


class Fresh:
    """The verdict on one file under ``--overwrite changed``. Made for every file of an up-to-date
    re-run, so the words of an up-to-date verdict and its record are made only when asked for."""

    __slots__ = ("up_to_date", "new", "stat", "_reason", "_row", "_record")

    def __init__(self, up_to_date: bool, new: bool, reason: str | None, row: Row | None = None,
                 stat: Stat | None = None) -> None:
        self.up_to_date = up_to_date
        self.new = new  # never made before (no output, no record)
        self.stat = stat  # the input as checked
        self._reason = reason
        self._row = row
        self._record: OutputRecord | None = None

    @property
    def record(self) -> OutputRecord | None:
        if self._record is None and self._row is not None:
            self._record = record_of_row(self._row)
        return self._record

    @property
    def result(self) -> Any:
        """The recorded result (the function's return value), decoded alone."""
        return None if self._row is None else result_of(self._row)

    @property
    def reason(self) -> str:
        if self._reason is None:
            row = self._row
            assert row is not None
            self._reason = f"made by job {row[JOB_ID]} on {_when(row[MADE])} from this input, code and parameters"
        return self._reason


def result_of(row: Row) -> Any:
    """The result a record holds (the function's return value), decoded alone."""
    text = row[RESULT]
    if type(row) is list:  # from the log (LoggedRecords): decoded already
        return text
    if text is None:
        return None
    if text[:1] == '"' and "\\" not in text:  # a plain string (a digest): no escapes to undo
        return text[1:-1]
    return json.loads(text)


# Columns of a record as read (provenance.ROW_COLUMNS)
OUTPUT, INPUT, IN_SIZE, IN_MTIME, RECIPE, OUT_SIZE, OUT_MTIME, RESULT, JOB_ID, MADE = (
    ROW_COLUMNS.index(name) for name in ("output", "input", "in_size", "in_mtime_ns", "recipe", "out_size",
                                              "out_mtime_ns", "result", "job_id", "made"))


class Freshness:
    """Compares files with their recorded outputs, for one recipe."""

    def __init__(self, store: ProvenanceStore, recipe: Recipe, roots: list[RootOutput], hash_inputs: bool,
                 sidecars: bool = False) -> None:
        self.store = store
        self.sidecars = sidecars  # --provenance sidecar: an output without its sidecar is made again
        self.recipe = recipe
        self.recipe_hash = recipe.hash
        self.roots = roots
        self.hash_inputs = hash_inputs
        self._looked_up: dict[str, Row | None] = {}  # by prefetch(), used once by check()
        self._logged: LoggedRecords | None = None  # what is logged and not folded (see _rows)

    def prefetch(self, files: Iterable[tuple[int, str, str | None]]) -> None:
        """Read the records of these (root, input, output) files in a few queries, for check()."""
        targets = [target_for(self.roots[root], src, dst) for root, src, dst in files]
        found = self._rows(targets)
        self._looked_up = {target: found.get(target) for target in targets}

    def _rows(self, targets: list[str]) -> dict[str, Row]:
        """The records of these targets: those logged since the last fold, read once for the whole
        check (up to LOGGED_READ of them; more are folded), else the table's."""
        logged = self._logged
        if logged is None:
            prefixes = tuple({str(root.output) for root in self.roots})
            logged = self.store.logged(prefixes, LOGGED_READ)
            if logged is None:
                self.store.fold()
                logged = LoggedRecords()
            self._logged = logged
        found: dict[str, Row]
        if not logged:
            found = self.store.rows_many(targets, fold=False)
            return found
        found, rest, take = {}, [], logged.take  # each file is checked once: what is read is let go
        for target in targets:
            row = take(target)
            if row is None:
                rest.append(target)
            else:
                found[target] = row
        if rest:
            found.update(self.store.rows_many(rest, fold=False))
        return found

    def check_all(self, files: list[tuple[int, str, str | None]]) -> list[Fresh]:
        """The verdicts on these (root, input, output) files, their records read in a few queries."""
        return [got if isinstance(got, Fresh) else Fresh(True, False, None, got, None)
                for got in self.sort_out(files)]

    def sort_out(self, files: list[tuple[int, str, str | None]]) -> list[Row | Fresh]:
        """For each of these (root, input, output) files: its record when it is up to date, decided
        in a few comparisons (the usual case, so nothing more is made for it), else its verdict
        (a Fresh, which may still say up to date: a touched input of the same content)."""
        roots, recipe, stat = self.roots, self.recipe_hash, os.stat
        targets = [target_for(roots[root], src, dst) for root, src, dst in files]
        found = self._rows(targets).get
        sorted_out: list[Row | Fresh] = []
        keep = sorted_out.append
        for (_root, src, dst), target in zip(files, targets):
            row = found(target)
            if row is not None:
                try:
                    st = stat(src)
                except OSError:
                    pass  # _verdict says why
                else:
                    if (row[IN_MTIME] == st.st_mtime_ns and row[IN_SIZE] == st.st_size and row[INPUT] == src
                            and row[RECIPE] == recipe and (row[OUTPUT] is None if dst is None else self._made(row, dst))):
                        keep(row)
                        continue
            keep(self._verdict(src, dst, row))
        return sorted_out

    def _made(self, row: Row, dst: str) -> bool:
        """The output is the one recorded (and its sidecar is there, when asked for)."""
        return _output_same(row, dst) and not (self.sidecars and not os.path.lexists(sidecar_path(dst)))

    def check(self, root_index: int, src: str, dst: str | None) -> Fresh:
        target = target_for(self.roots[root_index], src, dst)
        looked_up = self._looked_up
        row = looked_up.pop(target) if target in looked_up else self._rows([target]).get(target)
        return self._verdict(src, dst, row)

    def _verdict(self, src: str, dst: str | None, row: Row | None) -> Fresh:
        try:
            st = os.stat(src)
        except OSError as exc:
            return Fresh(False, False, f"the input cannot be read ({exc.strerror or exc})")
        stat = (st.st_size, st.st_mtime_ns)
        if row is None:
            if dst is not None and os.path.lexists(dst):
                return Fresh(False, False, "the output exists, but this journal has no record of making it", None,
                             stat)
            return Fresh(False, True, "no output yet" if dst is not None else "not run for this output folder before",
                         None, stat)
        # The common case first, in a few comparisons: unchanged input, recipe and output.
        if (row[IN_MTIME] == stat[1] and row[IN_SIZE] == stat[0] and row[INPUT] == src
                and row[RECIPE] == self.recipe_hash and (row[OUTPUT] is None if dst is None else self._made(row, dst))):
            return Fresh(True, False, None, row, stat)
        record = record_of_row(row)
        reasons = self._input_changes(record, src, stat) + self._recipe_changes(record)
        if dst is not None:
            reasons += _output_changes(record, dst)
            if self.sidecars and not reasons and not os.path.lexists(sidecar_path(dst)):
                reasons.append("its provenance sidecar is missing")
        if reasons:
            return Fresh(False, False, "; ".join(reasons), row, stat)
        return Fresh(True, False, None, row, stat)

    def _input_changes(self, record: OutputRecord, src: str, stat: Stat) -> list[str]:
        if record.input != src:
            return [f"the output was made from another input, {record.input}"]
        if record.in_mtime_ns is None:
            return ["the run that made it kept no record of the input (it ran without --overwrite changed)"]
        if (record.in_size, record.in_mtime_ns) == stat:
            return []
        if record.in_size != stat[0]:
            return [f"the input changed (size {record.in_size} -> {stat[0]} bytes)"]
        if self.hash_inputs and record.in_hash is not None:
            try:
                if hash_file(src) == record.in_hash:
                    return []  # touched, same content
            except OSError as exc:
                return [f"the input cannot be read ({exc.strerror or exc})"]
            return ["the input's content changed (same size, another sha256)"]
        return [f"the input was modified ({_when_ns(record.in_mtime_ns)} -> {_when_ns(stat[1])}, same size)"]

    def _recipe_changes(self, record: OutputRecord) -> list[str]:
        if record.recipe == self.recipe.hash:
            return []
        old = self.store.recipe(record.recipe)
        if old is None:
            return ["it was made by a processor set-up this journal has no record of"]
        return old.differences(self.recipe) or ["the processor set-up changed"]


def _output_same(row: Row, dst: str | None) -> bool:
    """The output is the one recorded (the quick check: _output_changes says what differs)."""
    if dst is None:
        return row[OUTPUT] is None
    if row[OUTPUT] is None or row[OUT_MTIME] is None:
        return False  # let _output_changes decide, in words
    try:
        st = os.lstat(dst)
    except OSError:
        return False
    return bool(st.st_mtime_ns == row[OUT_MTIME] and st.st_size == row[OUT_SIZE])


def _output_changes(record: OutputRecord, dst: str) -> list[str]:
    try:
        st = os.lstat(dst)
    except OSError:
        return [] if record.output is None else ["the output is missing"]
    if record.output is None:
        return ["an output is there that the last run did not make"]
    if record.out_mtime_ns is None:
        return []  # not recorded (a run without --overwrite changed): the input's verdict says so
    if (st.st_size, st.st_mtime_ns) != (record.out_size, record.out_mtime_ns):
        return ["the output was changed or replaced since it was made"]
    return []


@functools.lru_cache(maxsize=64)
def _when(timestamp: float) -> str:  # cached: the records of one journal flush share their time
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))


def _when_ns(ns: int | None) -> str:
    if ns is None:
        return "unknown"
    return _when(ns / 1e9) + f".{ns % 1_000_000_000 // 1_000_000:03d}"


def recipe_now(processor: Processor, params: Mapping[str, Any]) -> Recipe:
    """The recipe a new job of this processor and these parameters would have."""
    return make_recipe(processor, params, payload_key(dumps_checked(processor.task(params), processor.name)))


def open_freshness(journal: Journal, spec: JobSpec, processor: Processor, params: Mapping[str, Any],
                   roots: list[RootOutput]) -> Freshness:
    return Freshness(ProvenanceStore(journal), recipe_now(processor, params), roots, spec.hash_inputs, spec.sidecars)


class OutputLedger:
    """The running job's records of what it made, and (``--overwrite changed``) its plan filter.
    Only the engine thread uses it."""

    def __init__(self, journal: Journal, job_id: str, spec: JobSpec, processor: Processor,
                 params: Mapping[str, Any], payload_key_: str, roots: list[RootOutput], new_job: bool) -> None:
        self.store = ProvenanceStore(journal)
        self.job_id = job_id
        self.roots = roots
        self.hash_inputs = spec.hash_inputs
        recipe = None if new_job else self.store.job_recipe(job_id)
        if recipe is None:
            recipe = make_recipe(processor, params, payload_key_)
            self.store.save_recipe(job_id, recipe)
        self.recipe = recipe
        self.freshness = (Freshness(self.store, recipe, roots, spec.hash_inputs, spec.sidecars)
                          if spec.overwrite is Overwrite.CHANGED else None)
        self.checked: dict[str, tuple[Stat, str]] = {}  # input -> (its stat, why it runs), until it finishes
        self.finished: list[tuple[int, str, str | None, bool, Any, int | None]] = []  # not recorded yet
        # Without --overwrite changed or --hash-inputs, a file's record holds nothing its done record
        # does not: each journal write logs where they are (ProvenanceStore.append_reference), and
        # the engine thread does nothing per file but note the ids of outputs not made.
        self.by_reference = self.freshness is None and not self.hash_inputs
        self.unmade: list[int] = []
        self.root_folders = [str(root.output) for root in roots]
        # (root, input, result) of up-to-date files, for a final per-folder step (spilled past a
        # bound), sorted by root and input: compared as tuples, in C ((root, input) is unique)
        self.reused: SpillSorter[tuple[int, str, Any]] = SpillSorter(None)
        self.up_to_date = 0

    def filter(self, plan: Iterator[PlannedFile], keep_results: bool,
               log: Callable[[str], None]) -> Iterator[PlannedFile]:
        """The plan with every up-to-date file marked skipped (``--overwrite changed``)."""
        freshness = self.freshness
        if freshness is None:
            yield from plan
            return
        for chunk in _chunks(plan, PREFETCH):
            yield from self._filtered(chunk, freshness, keep_results)
        if self.up_to_date:  # a first run has none to tell of
            log(f"{self.up_to_date:,} files up to date (--overwrite changed): not run again")

    def _filtered(self, chunk: list[PlannedFile], freshness: Freshness, keep_results: bool) -> Iterator[PlannedFile]:
        verdicts = iter(freshness.sort_out([(p.root, p.src, p.dst) for p in chunk if p.status == PENDING]))
        reused: list[tuple[int, str, Any]] = []  # kept a chunk at a time (SpillSorter.extend)
        try:
            for planned in chunk:
                if planned.status == PENDING:
                    fresh = next(verdicts)
                    if not isinstance(fresh, Fresh) or fresh.up_to_date:  # its record (up to date), or a verdict
                        self.up_to_date += 1
                        if keep_results:
                            reused.append((planned.root, planned.src,
                                           fresh.result if isinstance(fresh, Fresh) else result_of(fresh)))
                        yield PlannedFile(planned.root, planned.src, planned.dst, SKIPPED, planned.size)
                        continue
                    if fresh.stat is not None and len(self.checked) < CHECKED_KEPT:
                        self.checked[planned.src] = (fresh.stat, fresh.reason)
                yield planned
        finally:
            self.reused.extend(reused)

    def recorded_result(self, root: int, src: str, dst: str | None) -> Any:
        """The result recorded for a file skipped as up to date by an earlier session of this job."""
        record = self.store.get(target_for(self.roots[root], src, dst))
        return None if record is None else record.result

    def done(self, root: int, src: str, dst: str | None, made: bool, value: Any, size: int | None) -> None:
        self.finished.append((root, src, dst, made, value, size))

    def flush(self, done_row: int | None) -> None:
        """Record the files done since the last flush; ``done_row``: the journal's row of their done records."""
        if self.by_reference:
            if done_row is not None:
                self.store.append_reference(self.job_id, done_row, self.root_folders, self.unmade)
            self.unmade = []
            return
        finished, self.finished = self.finished, []
        now = time.time()
        if finished:
            self.store.append(self.job_id, [self._row(*item, now) for item in finished])

    def _row(self, root: int, src: str, dst: str | None, made: bool, value: Any, size: int | None,
             now: float) -> list[Any]:
        """A record of output_log (batchmill.core.provenance). Only a job under --overwrite changed
        records the input's mtime (taken when it was checked, before it ran) and the output's size
        and mtime: two stats a file on the engine thread made a job of 20,000 small files 25 %
        slower, and only such a job reads them back."""
        checked = self.checked.pop(src, None)
        stat: Stat | tuple[int | None, None] | None
        if checked is not None:
            stat, reason = checked
        elif self.freshness is not None:  # past CHECKED_KEPT, or a resumed job's file
            stat, reason = _stat(src) or (size, None), None
        else:
            stat, reason = (size, None), None
        in_hash = None
        if self.hash_inputs:
            try:
                in_hash = hash_file(src)
            except OSError:
                in_hash = None
        out = _stat(dst, follow=False) if made and dst is not None and self.freshness is not None else None
        return [target_for(self.roots[root], src, dst), dst if made else None, src,
                stat[0], stat[1], in_hash,
                out[0] if out else None, out[1] if out else None, value, now, reason]


PREFETCH = 256  # planned files whose records are read in one go: the plan still streams


def _chunks(items: Iterator[PlannedFile], size: int) -> Iterator[list[PlannedFile]]:
    chunk: list[PlannedFile] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _stat(path: str, follow: bool = True) -> Stat | None:
    try:
        st = os.stat(path) if follow else os.lstat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns
