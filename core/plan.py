"""Planning: which inputs map to which outputs, decided before any file runs.

A dropped folder ``X`` is mirrored as ``OUTPUT/X.name/<relative path>``; a
dropped file goes to ``OUTPUT/<name>``. Two inputs that would write the same
output stop the job before it starts, naming both. The overwrite policy is
applied here, once, and recorded, so a resumed job never re-decides it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from batchmill.core.events import FileStatus
from batchmill.core.file_kinds import describe_odd_entry
from batchmill.core.inputs_guard import InputGuard, OverlapError
from batchmill.core.inputs_list import iter_listed
from batchmill.core.naming import render
from batchmill.core.outputs import free_name
from batchmill.core.processors.base import Processor, RootOutput
from batchmill.core.scan import Filter, iter_folder
from batchmill.core.sidecar import SIDECAR_SUFFIX
from batchmill.core.spec import JobSpec, Overwrite


class PlanError(ValueError):
    """The job cannot start; the message names the inputs concerned."""


class CollisionError(PlanError):
    """Two inputs would write one output (a preview lists it and goes on)."""

    def __init__(self, first: str, second: str, output: str) -> None:
        super().__init__(f"inputs {first} and {second} would both write {output}")
        self.first, self.second, self.output = first, second, output


PENDING, SKIPPED = FileStatus.PENDING.value, FileStatus.SKIPPED.value
FAILED = FileStatus.FAILED.value  # an entry the scan could not read (an unreadable folder)


class PlannedFile(NamedTuple):
    """One input and its output. A tuple, not a dataclass: one is made per file, on the
    engine thread, while the workers wait for their first batches."""

    root: int
    src: str
    dst: str | None
    status: str  # "pending"; "skipped" when the output exists and overwrite is skip; "failed": unreadable (FileStatus values)
    size: int  # -1: not measured (the workers measure it, in parallel)


def plan_roots(spec: JobSpec) -> list[RootOutput]:
    """Check the inputs exist and that no two of them claim the same output folder or file."""
    output = Path(spec.output)
    if output.exists() and not output.is_dir():
        raise PlanError(f"output {output} exists and is not a folder")
    roots: list[RootOutput] = []
    claimed: dict[str, str] = {}
    for index, raw in enumerate(spec.inputs):
        path = Path(raw)
        if not path.exists():
            raise PlanError(f"input {path} does not exist")
        is_dir = path.is_dir()
        if not is_dir and not path.is_file():
            what = describe_odd_entry(str(path)).removesuffix(", not a regular file").removeprefix("a symbolic link to ")
            raise PlanError(f"input {path} is {what}, neither a file nor a folder")
        name = path.name or path.resolve().name
        key = os.path.normcase(name)
        if key in claimed:
            raise PlanError(
                f"inputs {claimed[key]} and {path} would both write to {output / name}; "
                f"drop them in separate jobs or rename one")
        claimed[key] = str(path)
        roots.append(RootOutput(index, path, is_dir, output / name if is_dir else output))
    try:
        InputGuard(roots, output).check_roots()
    except OverlapError as exc:
        raise PlanError(str(exc)) from None
    return roots


def check_dropped_files(spec: JobSpec, processor: Processor, params: Mapping[str, Any],
                        roots: list[RootOutput]) -> None:
    """Refuse, before the job starts, a dropped file whose output would be an input or land in
    an input folder (folders' own files are checked as the scan plans them)."""
    guard = InputGuard(roots, spec.output)
    try:
        for root in roots:
            name = None if root.is_dir else preview_output(spec, processor, params, root.input.name)
            if name is not None and spec.sidecars:
                check_not_sidecar_name(name, str(root.input))
            if name is not None:
                guard.check_output(str(root.output), name, str(root.input))
            elif not root.is_dir and type(processor).finalize is not Processor.finalize:
                guard.check_final_step(str(root.output), processor.name, str(root.input))
    except OverlapError as exc:
        raise PlanError(str(exc)) from None


def preview_output(spec: JobSpec, processor: Processor, params: Mapping[str, Any], input_name: str) -> str | None:
    """The output name one input would get (the window's live preview of a naming template)."""
    out_name = processor.output_name(params, input_name)
    if out_name is None or spec.name_template is None:
        return out_name
    return render(spec.name_template, input_name, out_name)


def iter_plan(
    spec: JobSpec,
    processor: Processor,
    params: Mapping[str, Any],
    roots: list[RootOutput],
    log: Callable[[str], None],
    unreadable: dict[str, str] | None = None,
    on_skip: Callable[[str], None] | None = None,
) -> Iterator[PlannedFile]:
    """Yield every input file with its output, lazily. Raises PlanError on an output collision.

    ``unreadable``: a folder the scan cannot read is yielded as an entry in state FAILED, and
    mapped here to why (see iter_folder); without it, only ``log`` hears of it. ``on_skip``: told
    of each entry the scan leaves out (a broken link, a special file; see scan.split_skip)
    instead of ``log``."""
    skipped = on_skip or log
    file_filter = Filter(spec.include, spec.exclude, spec.ignore_case)
    guard = InputGuard(roots, spec.output)
    output_real = guard.skipped_real_paths()  # the output folder, and each input folder's within it
    planner = _Planner(spec, processor, params, guard)
    for root in roots:
        if root.is_dir:
            if _inside(spec.output, str(root.input)):
                log(f"the output folder {spec.output} is inside the input {root.input}; it is left out of the scan")
            if spec.files:
                files = iter_listed(str(root.input), spec.files, file_filter, output_real, skipped)
            else:
                files = iter_folder(root.input, file_filter, spec.recursive, output_real, skipped, unreadable)
        else:
            files = iter([(str(root.input), root.input.name, _size(root.input))])
        index = root.index
        if planner.no_outputs:
            for src, _relpath, size in files:
                yield PlannedFile(index, src, None, FAILED if unreadable and src in unreadable else PENDING, size)
            continue
        out_base = str(root.output)
        for src, relpath, size in files:
            if unreadable and src in unreadable:
                yield PlannedFile(index, src, None, FAILED, size)
                continue
            yield planner.plan(index, out_base, src, relpath, size)


class _Planner:
    """Maps one input to its output; remembers every output so a collision is caught."""

    def __init__(self, spec: JobSpec, processor: Processor, params: Mapping[str, Any], guard: InputGuard) -> None:
        self.spec = spec
        self.guard = guard
        self.processor = processor
        self.params = params
        self.planned: dict[str, str] = {}
        probe = processor.output_name(params, "probe.name")
        self.no_outputs = probe is None
        self.template = spec.name_template
        self.identity_names = probe == "probe.name" and self.template is None
        self.sidecars = spec.sidecars
        # Outputs named as their inputs cannot collide (relative paths in one folder are unique,
        # and no two inputs share an output folder): then only a rename needs the outputs so far,
        # and a million-file job does not keep a million paths here.
        self.remembers = not self.identity_names or spec.overwrite is Overwrite.RENAME

    def plan(self, root: int, out_base: str, src: str, relpath: str, size: int) -> PlannedFile:
        rel_dir, name = os.path.split(relpath)
        out_name = name if self.identity_names else self.processor.output_name(self.params, name)
        if out_name is None:
            return PlannedFile(root, src, None, PENDING, size)
        if self.template is not None:
            out_name = render(self.template, name, out_name)
        if self.sidecars:
            check_not_sidecar_name(out_name, src)
        folder = os.path.join(out_base, rel_dir) if rel_dir else out_base
        try:
            self.guard.check_output(folder, out_name, src)
        except OverlapError as exc:
            raise PlanError(str(exc)) from None
        dst = os.path.join(folder, out_name)
        key = os.path.normcase(dst)
        if key in self.planned:
            raise CollisionError(self.planned[key], src, dst)
        status = PENDING
        if os.path.lexists(dst):
            if self.spec.overwrite is Overwrite.SKIP:
                status = SKIPPED
            elif self.spec.overwrite is Overwrite.RENAME:
                dst = str(free_name(Path(dst), set(self.planned), SIDECAR_SUFFIX if self.sidecars else ""))
                key = os.path.normcase(dst)
        if self.remembers:
            self.planned[key] = src
        return PlannedFile(root, src, dst, status, size)


def check_not_sidecar_name(out_name: str, src: str) -> None:
    """With sidecars on, no output may be named like one: it could be another output's sidecar."""
    if out_name.endswith(SIDECAR_SUFFIX):
        raise PlanError(f"the output of {src} would be named {out_name}, a provenance sidecar's name "
                        f"(*{SIDECAR_SUFFIX}) with --provenance sidecar, which another output's sidecar may take; "
                        f"choose another output name (--name), or leave such files out (--exclude '*{SIDECAR_SUFFIX}')")


def _inside(child: str, parent: str) -> bool:
    child_real, parent_real = os.path.realpath(child), os.path.realpath(parent)
    return child_real == parent_real or child_real.startswith(parent_real.rstrip(os.sep) + os.sep)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return -1


Planner = _Planner  # the preview (batchmill.core.preview) plans file by file with the run's own rules
