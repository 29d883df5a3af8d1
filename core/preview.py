"""The preview (``batchmill run … --dry-run``, ``batchmill.preview()``, the window's preview):
what a job would do to every file, decided by the run's own rules, without running anything.

It scans and plans as the engine does (the same scanner, the same ``Planner``, the same
freshness check for ``--overwrite changed``), but unfiltered, so a file a pattern leaves out
is shown as excluded, and a collision is listed (naming both inputs) instead of ending the
scan. Verdicts stream out one file at a time: a preview of a folder of 200,000 files holds
the planner's set of outputs and the counts, not a list of verdicts.
"""

from __future__ import annotations

import enum
import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, TextIO

from batchmill.core.estimate import CostModel, Estimate, cost_model, estimate
from batchmill.core.freshness import Freshness, open_freshness
from batchmill.core.journal import Journal
from batchmill.core.inputs_guard import InputGuard
from batchmill.core.inputs_list import iter_listed
from batchmill.core.plan import SKIPPED, CollisionError, PlanError, Planner, check_dropped_files, plan_roots, preview_output
from batchmill.core.processors import get_processor
from batchmill.core.processors.base import Processor, RootOutput
from batchmill.core.sample import SAMPLE_BUDGET_S, SAMPLE_FILES, SamplePicker, SampleRun, time_sample
from batchmill.core.scan import Filter, iter_folder, split_skip
from batchmill.core.sidecar import SIDECAR_SUFFIX, sidecar_path
from batchmill.core.spec import JobSpec, Overwrite


class Verdict(str, enum.Enum):
    """What a job would do to one file (the words the operator reads)."""

    NEW = "new"  # no output yet: it runs
    UP_TO_DATE = "up to date"  # --overwrite changed: made from this input, code and parameters; not run
    CHANGED = "changed"  # --overwrite changed: it runs again, the reason says why
    REPLACE = "will replace"  # the output exists and is replaced
    RENAME = "will be renamed"  # the output exists; the new one gets a free name
    KEEP = "kept"  # the output exists and --overwrite skip keeps it: not run
    COLLISION = "collision"  # another input claims the same output: the job would not start
    REFUSED = "refused"  # its output would be an input, or land in an input folder: the job would not start
    EXCLUDED = "excluded"  # left out by --include / --exclude
    SCAN_SKIPPED = "skipped by the scanner"  # a broken link, an unreadable folder, a special file

    @property
    def runs(self) -> bool:
        return self in (Verdict.NEW, Verdict.CHANGED, Verdict.REPLACE, Verdict.RENAME)


VERDICT_ORDER = tuple(Verdict)


@dataclass(frozen=True, slots=True)
class FileVerdict:
    """One file of a preview. ``output`` is None for a processor without per-file outputs
    (checksum: its per-folder manifest is named in the summary), an excluded file or a scan skip."""

    verdict: Verdict
    input: str | None
    output: str | None
    reason: str = ""
    other_input: str | None = None  # a collision: the input that claimed the output first
    size: int = -1  # the input's size in bytes (-1: not measured)
    folder: str | None = None  # a processor without per-file outputs: the folder of its per-folder output
    sidecar: str | None = None  # --provenance sidecar: the provenance sidecar written beside the output

    @property
    def destination(self) -> str:
        """Where the output goes, for people: the file, or the folder of a per-folder output."""
        if self.output:
            return self.output
        return f"{self.folder}{os.sep} (per-folder output)" if self.folder else ""

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"verdict": self.verdict.value, "input": self.input, "output": self.output,
                                "reason": self.reason, "runs": self.verdict.runs}
        if self.other_input is not None:
            data["other_input"] = self.other_input
        if self.size >= 0:
            data["size"] = self.size
        if self.folder is not None:
            data["folder"] = self.folder
        if self.sidecar is not None:
            data["sidecar"] = self.sidecar
        return data


@dataclass
class Tally:
    """The counts of a preview so far (filled in as verdicts stream past)."""

    counts: Counter[Verdict] = field(default_factory=Counter)
    bytes_to_run: int = 0
    sizes_known: bool = True

    def add(self, verdict: FileVerdict) -> None:
        self.counts[verdict.verdict] += 1
        if verdict.verdict.runs:
            if verdict.size >= 0:
                self.bytes_to_run += verdict.size
            else:
                self.sizes_known = False

    @property
    def to_run(self) -> int:
        return sum(n for v, n in self.counts.items() if v.runs)

    @property
    def files(self) -> int:
        """Files the job would plan (run or not); excluded files and scan skips are not among them."""
        return sum(n for v, n in self.counts.items() if v not in (Verdict.EXCLUDED, Verdict.SCAN_SKIPPED))

    @property
    def collisions(self) -> int:
        """Files that keep the job from starting (collisions, outputs onto inputs)."""
        return self.counts[Verdict.COLLISION] + self.counts[Verdict.REFUSED]

    def line(self) -> str:
        parts = [f"{self.counts[v]:,} {v.value}" for v in VERDICT_ORDER if self.counts[v]]
        return f"{self.files:,} files, {self.to_run:,} to run" + (f": {', '.join(parts)}" if parts else "")

    def as_json(self) -> dict[str, Any]:
        return {"files": self.files, "to_run": self.to_run, "bytes_to_run": self.bytes_to_run,
                "counts": {v.value: self.counts[v] for v in VERDICT_ORDER}}


@dataclass(frozen=True)
class PreviewSetup:
    """A job checked as ``check_new`` would (without journaling it), ready to preview."""

    spec: JobSpec
    processor: Processor
    params: dict[str, Any]
    roots: list[RootOutput]
    freshness: Freshness | None  # --overwrite changed: the journal's records of earlier outputs
    cost: CostModel | None = None  # from the journal's history of this processor (None: no history)

    def estimate(self, tally: Tally) -> Estimate | None:
        """How long the files to run would take (after the preview has counted them)."""
        return estimate(self.cost, tally.to_run, tally.bytes_to_run, self.spec.workers)


def set_up(spec: JobSpec, journal: Journal | None, processor: Processor | None = None) -> PreviewSetup:
    """Raises the errors ``check_new`` would turn into a JobError (unknown processor, bad
    parameter, missing input, two inputs claiming one output folder)."""
    processor = processor or get_processor(spec.processor)
    params = processor.validate(spec.params)
    roots = plan_roots(spec)
    check_dropped_files(spec, processor, params, roots)
    freshness = None
    if spec.overwrite is Overwrite.CHANGED and journal is not None:
        freshness = open_freshness(journal, spec, processor, params, roots)
    cost = cost_model(journal, processor.name, processor.identity(params)) if journal is not None else None
    return PreviewSetup(spec, processor, params, roots, freshness, cost)


def iter_preview(setup: PreviewSetup) -> Iterator[FileVerdict]:
    """Every file the job's inputs hold, with its verdict, in the order the job would plan them."""
    spec, processor, params = setup.spec, setup.processor, setup.params
    guard = InputGuard(setup.roots, spec.output)
    planner = Planner(spec, processor, params, guard)
    file_filter = Filter(spec.include, spec.exclude, spec.ignore_case)
    everything = Filter((), (), spec.ignore_case)
    checks = _PatternReasons(spec.include, spec.exclude, spec.ignore_case)
    output_real = guard.skipped_real_paths()
    skips: list[str] = []
    for root in setup.roots:
        files: Iterator[tuple[str, str, int]]
        if root.is_dir and spec.files:
            files = iter_listed(str(root.input), spec.files, everything, output_real, skips.append)
        elif root.is_dir:
            files = iter_folder(root.input, everything, spec.recursive, output_real, skips.append)
        else:
            files = iter([(str(root.input), root.input.name, -1)])
        out_base = str(root.output)
        for src, relpath, _size in files:
            yield from _drain(skips)
            name = os.path.basename(relpath)
            if root.is_dir and not _wanted(file_filter, name, relpath):
                yield FileVerdict(Verdict.EXCLUDED, src, None, checks.why(name, relpath), size=_size_of(src))
                continue
            yield _verdict(setup, planner, root, out_base, src, relpath)
        yield from _drain(skips)


def _verdict(setup: PreviewSetup, planner: Planner, root: RootOutput, out_base: str, src: str,
             relpath: str) -> FileVerdict:
    verdict = _plain_verdict(setup, planner, root, out_base, src, relpath)
    if setup.spec.sidecars and verdict.output is not None and verdict.verdict.runs:
        return replace(verdict, sidecar=sidecar_path(verdict.output))
    return verdict


def _plain_verdict(setup: PreviewSetup, planner: Planner, root: RootOutput, out_base: str, src: str,
                   relpath: str) -> FileVerdict:
    spec = setup.spec
    checked = setup.freshness is not None  # the check stats the input: its size comes from there
    size = -1 if checked else _size_of(src)
    if planner.no_outputs:
        dst = None
        status = "pending"
    else:
        try:
            _root, _src, dst, status, _ = planner.plan(root.index, out_base, src, relpath, size)
        except CollisionError as exc:
            return FileVerdict(Verdict.COLLISION, src, exc.output,
                               f"{exc.first} writes {exc.output} too", exc.first, _size_of(src))
        except PlanError as exc:
            return FileVerdict(Verdict.REFUSED, src, None, str(exc), size=_size_of(src))
    if status == SKIPPED:
        return FileVerdict(Verdict.KEEP, src, dst, "the output exists; --overwrite skip keeps it",
                           size=_size_of(src) if checked else size)
    folder = str(root.output) if dst is None else None
    if setup.freshness is not None:
        fresh = setup.freshness.check(root.index, src, dst)
        verdict = Verdict.UP_TO_DATE if fresh.up_to_date else Verdict.NEW if fresh.new else Verdict.CHANGED
        return FileVerdict(verdict, src, dst, fresh.reason, size=fresh.stat[0] if fresh.stat else -1,
                           folder=folder)
    if dst is None:
        return FileVerdict(Verdict.NEW, src, None, "runs; its result goes into the per-folder output", size=size,
                           folder=folder)
    if spec.overwrite is Overwrite.RENAME:
        rel_dir, name = os.path.split(relpath)
        natural = os.path.join(out_base, rel_dir, preview_output(spec, setup.processor, setup.params, name) or name)
        if dst != natural:
            return FileVerdict(Verdict.RENAME, src, dst, f"{natural} exists", size=size)
        return FileVerdict(Verdict.NEW, src, dst, "no output yet", size=size)
    if os.path.lexists(dst):
        return FileVerdict(Verdict.REPLACE, src, dst, "the output exists; --overwrite replace replaces it", size=size)
    return FileVerdict(Verdict.NEW, src, dst, "no output yet", size=size)


def _wanted(file_filter: Filter, name: str, relpath: str) -> bool:
    if not file_filter.wants_file(name, relpath):
        return False
    parts = relpath.split(os.sep)[:-1]  # a file inside an excluded folder is excluded with it
    return all(file_filter.wants_dir(part, os.sep.join(parts[: i + 1])) for i, part in enumerate(parts))


class _PatternReasons:
    """Which pattern left a file out: each pattern tried alone, with the scanner's own matching."""

    def __init__(self, include: tuple[str, ...], exclude: tuple[str, ...], ignore_case: bool | None) -> None:
        self.include = include
        self.excludes = [(pattern, Filter((), (pattern,), ignore_case)) for pattern in exclude]

    def why(self, name: str, relpath: str) -> str:
        parts = relpath.split(os.sep)
        for pattern, alone in self.excludes:
            if not alone.wants_file(name, relpath):
                return f"--exclude {pattern}"
            for i, part in enumerate(parts[:-1]):
                if not alone.wants_dir(part, os.sep.join(parts[: i + 1])):
                    return f"--exclude {pattern} (its folder {os.sep.join(parts[: i + 1])})"
        if self.include:
            return f"matches no --include ({', '.join(self.include)})"
        return "left out by a pattern"


def _drain(skips: list[str]) -> Iterator[FileVerdict]:
    while skips:
        message = skips.pop(0)
        yield FileVerdict(Verdict.SCAN_SKIPPED, split_skip(message)[0], None, message)


def _size_of(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return -1


# -- showing it -------------------------------------------------------------
def format_verdict(verdict: FileVerdict) -> str:
    """One line for a terminal: verdict, input → output, and why."""
    label = f"{verdict.verdict.value:<22}"
    if verdict.input is None:
        return f"{label} {verdict.reason}"
    target = f" -> {verdict.destination}" if verdict.destination else ""
    if verdict.sidecar is not None:
        target += f" (+ sidecar {verdict.sidecar})"
    why = f"  ({verdict.reason})" if verdict.reason and verdict.verdict is not Verdict.SCAN_SKIPPED else ""
    if verdict.verdict is Verdict.SCAN_SKIPPED:
        why = f"  ({verdict.reason})"
    return f"{label} {verdict.input}{target}{why}"


def run_preview(setup: PreviewSetup, emit: Callable[[FileVerdict], None]) -> Tally:
    """Stream every verdict to ``emit`` and return the counts."""
    tally = Tally()
    for verdict in iter_preview(setup):
        tally.add(verdict)
        emit(verdict)
    return tally


class PreviewError(ValueError):
    """The job could not start at all (the message says why); a preview of it shows nothing."""


def checked_set_up(spec: JobSpec, journal: Journal | None, processor: Processor | None = None) -> PreviewSetup:
    """``set_up`` with every reason a job cannot start raised as a PreviewError."""
    from batchmill.core.payload import PayloadError
    from batchmill.core.plan import PlanError
    from batchmill.core.processors import UnknownProcessor
    from batchmill.core.processors.base import ParamError

    try:
        return set_up(spec, journal, processor)
    except (UnknownProcessor, ParamError, PlanError, PayloadError) as exc:
        raise PreviewError(str(exc)) from None


def picker_for(setup: PreviewSetup, sample: bool) -> SamplePicker | None:
    """A reservoir of files to time, when a sample is asked for and the journal has no history."""
    return SamplePicker() if sample and setup.cost is None else None


def sampled_estimate(setup: PreviewSetup, picker: SamplePicker, tally: Tally,
                     stop: Callable[[], bool] | None = None) -> tuple[Estimate | None, SampleRun]:
    """Time a few of the files to run (batchmill.core.sample) and extrapolate to all of them."""
    run = time_sample(setup.processor, setup.params, picker.picks(), stop=stop)
    return estimate(run.model(), tally.to_run, tally.bytes_to_run, setup.spec.workers), run


def sample_note(run: SampleRun) -> str:
    """What a person should know about a sample besides its figures."""
    notes = []
    if run.cut_short:
        notes.append(f"cut short at {SAMPLE_BUDGET_S:g} s: a lower bound")
    if run.failed:
        notes.append(f"{run.failed} of the sample failed")
    return f" ({'; '.join(notes)})" if notes else ""


def print_preview(spec: JobSpec, json_lines: bool, out: TextIO, err: TextIO, sample: bool = False) -> int:
    """``batchmill run … --dry-run``: every file's verdict on ``out`` as it is decided (a line,
    or with ``json_lines`` a JSON object per line), then the counts. Returns the exit status the
    run would have at its start: 2 when it could not start (collisions included), else 0.
    ``sample`` (``--estimate sample``): without history, time a few files for the estimate."""
    journal = Journal()
    try:
        try:
            setup = checked_set_up(spec, journal)
        except PreviewError as exc:
            print(f"batchmill: error: {exc}", file=err)
            if json_lines:
                print(json.dumps({"type": "summary", "error": str(exc)}), file=out)
            return 2

        picker = picker_for(setup, sample)

        def emit(verdict: FileVerdict) -> None:
            if picker is not None and verdict.verdict.runs and verdict.input is not None:
                picker.add(verdict.input, verdict.output, verdict.size)
            if json_lines:
                out.write(json.dumps({"type": "file", **verdict.as_json()}) + "\n")
            else:
                out.write(format_verdict(verdict) + "\n")

        tally = run_preview(setup, emit)
        guess = setup.estimate(tally)
        sampled: SampleRun | None = None
        if guess is None and picker is not None and tally.to_run and not tally.collisions:
            if not json_lines:
                print(f"timing a sample of up to {SAMPLE_FILES} files (no history of {setup.processor.name} "
                      "in the journal)…", file=err)
            guess, sampled = sampled_estimate(setup, picker, tally)
        if json_lines:
            shown = guess.as_json() if guess else None
            if shown is not None and sampled is not None:
                shown.update(sample_cut_short=sampled.cut_short, sample_failed=sampled.failed)
            print(json.dumps({"type": "summary", **tally.as_json(), "output": spec.output, "estimate": shown,
                              **({"estimate_error": sampled.error} if sampled and sampled.error else {})}),
                  file=out)
        else:
            print(f"dry run: {tally.line()}; nothing was run", file=out)
            if spec.sidecars:
                print(f"with --provenance sidecar: a provenance sidecar beside each output (OUTPUT{SIDECAR_SUFFIX}"
                      f"{'' if setup.processor.makes_file_outputs else ', one for each per-folder output'})", file=out)
            if guess is not None:
                print(guess.line() + (sample_note(sampled) if sampled is not None else ""), file=out)
            elif sampled is not None:
                print(f"estimate: none: the sample could not be timed ({sampled.error})", file=out)
            elif tally.to_run:
                print(f"estimate: none yet (no earlier job of {setup.processor.name} in the journal; "
                      "--estimate sample times a few files)", file=out)
        if tally.collisions:
            print(f"batchmill: error: {tally.collisions} input(s) would write an output another input writes, or "
                  "onto an input; the job would not start (see the collision and refused lines)", file=err)
            return 2
        return 0
    finally:
        journal.close()


__all__ = ["FileVerdict", "PreviewError", "PreviewSetup", "Tally", "Verdict", "checked_set_up", "format_verdict",
           "iter_preview", "print_preview", "run_preview", "set_up"]
