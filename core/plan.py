"""Planning: which inputs map to which outputs, decided before any file runs.

A dropped folder ``X`` is mirrored as ``OUTPUT/X.name/<relative path>``; a
dropped file goes to ``OUTPUT/<name>``. Two inputs that would write the same
output stop the job before it starts, naming both. The overwrite policy is
applied here, once, and recorded, so a resumed job never re-decides it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.events import FileStatus
from core.outputs import free_name
from core.processors.base import Processor, RootOutput
from core.scan import Filter, iter_folder
from core.spec import JobSpec, Overwrite


class PlanError(ValueError):
    """The job cannot start; the message names the inputs concerned."""


@dataclass(frozen=True, slots=True)
class PlannedFile:
    root: int
    src: str
    dst: str | None
    status: FileStatus  # PENDING, or SKIPPED when the output exists and overwrite is skip
    size: int


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
            raise PlanError(f"input {path} is neither a file nor a folder")
        name = path.name or path.resolve().name
        key = os.path.normcase(name)
        if key in claimed:
            raise PlanError(
                f"inputs {claimed[key]} and {path} would both write to {output / name}; "
                f"drop them in separate jobs or rename one")
        claimed[key] = str(path)
        roots.append(RootOutput(index, path, is_dir, output / name if is_dir else output))
    return roots


def iter_plan(
    spec: JobSpec,
    processor: Processor,
    params: Mapping[str, Any],
    roots: list[RootOutput],
    log: Callable[[str], None],
) -> Iterator[PlannedFile]:
    """Yield every input file with its output, lazily. Raises PlanError on an output collision."""
    file_filter = Filter(spec.include, spec.exclude)
    output_real = {os.path.realpath(spec.output)}
    planned: dict[str, str] = {}
    for root in roots:
        if root.is_dir:
            if _inside(spec.output, str(root.input)):
                log(f"the output folder {spec.output} is inside the input {root.input}; it is left out of the scan")
            files = iter_folder(root.input, file_filter, spec.recursive, output_real, log)
            base = root.input
        else:
            files = iter([(root.input, _size(root.input))])
            base = root.input.parent
        for src, size in files:
            yield _plan_one(spec, processor, params, root, base, src, size, planned)


def _plan_one(spec: JobSpec, processor: Processor, params: Mapping[str, Any], root: RootOutput,
              base: Path, src: Path, size: int, planned: dict[str, str]) -> PlannedFile:
    out_name = processor.output_name(params, src.name)
    if out_name is None:
        return PlannedFile(root.index, str(src), None, FileStatus.PENDING, size)
    rel_parent = src.parent.relative_to(base)
    dst = root.output / rel_parent / out_name
    key = os.path.normcase(str(dst))
    if key in planned:
        raise PlanError(f"inputs {planned[key]} and {src} would both write {dst}")
    status = FileStatus.PENDING
    if os.path.lexists(dst):
        if spec.overwrite is Overwrite.SKIP:
            status = FileStatus.SKIPPED
        elif spec.overwrite is Overwrite.RENAME:
            dst = free_name(dst, set(planned))
            key = os.path.normcase(str(dst))
    planned[key] = str(src)
    return PlannedFile(root.index, str(src), str(dst), status, size)


def _inside(child: str, parent: str) -> bool:
    child_real, parent_real = os.path.realpath(child), os.path.realpath(parent)
    return child_real == parent_real or child_real.startswith(parent_real.rstrip(os.sep) + os.sep)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return -1
