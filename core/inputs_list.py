"""Inputs given as a list of files, as rsync's and tar's ``--files-from`` and GNU parallel's ``-0``.

``batchmill run checksum - -0 --root IN`` reads file names from stdin (``-``; or ``--files-from
FILE``), one a line or, with ``-0``, NUL-separated as ``find -print0`` writes them, so any name
(spaces, quotes, newlines, bytes that are not UTF-8) gets through. The names are bytes, decoded
as the file system decodes names (``os.fsdecode``). Relative names are relative to the current
folder, as ``find`` prints them.

Listed files keep the output layout rules: they are files of one folder, the root (``--root
DIR``, or by default the deepest folder that holds them all), which is mirrored as
``OUTPUT/<root's name>/<relative path>`` exactly as when that folder is the input. A job made
from a list is a JobSpec with that one folder as its input and the listed files, relative to it,
in ``files``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from batchmill.core.outputs import is_tmp_name
from batchmill.core.sidecar import SIDECAR_SUFFIX, is_sidecar_file
from batchmill.core.patterns import Filter

STDIN = "-"


class ListError(ValueError):
    """The list cannot be used; the message says why (the CLI exits 2 with it)."""


@dataclass(frozen=True)
class ListedInputs:
    root: str  # the folder the files are listed from (absolute)
    files: tuple[str, ...]  # each listed file relative to root, in list order, without repeats


def split_list(data: bytes, null: bool) -> list[str]:
    """The names in a list: NUL-separated with ``null``, else one a line (``\\r\\n`` too); empty ones dropped."""
    if null:
        raw = data.split(b"\0")
    else:
        raw = [line[:-1] if line.endswith(b"\r") else line for line in data.split(b"\n")]
    return [os.fsdecode(name) for name in raw if name]


def read_list(source: str, null: bool, stdin: BinaryIO) -> list[str]:
    """The names listed in the file ``source`` (``-``: stdin)."""
    if source == STDIN:
        if stdin.isatty():  # typed by hand, or a forgotten pipe: say what it waits for
            print("batchmill: reading the files to process from stdin, one a line (end with Ctrl-D)",
                  file=sys.stderr)
        return split_list(stdin.read(), null)
    try:
        with open(source, "rb") as handle:
            return split_list(handle.read(), null)
    except OSError as exc:
        raise ListError(f"cannot read the list {source}: {exc.strerror or exc}") from None


def listed_inputs(names: list[str], root: str | None) -> ListedInputs:
    """Place the listed files under ``root`` (default: the deepest folder holding them all)."""
    if not names:
        raise ListError("the list of inputs is empty")
    absolute = [os.path.abspath(name) for name in names]
    if root is None:
        try:
            base = os.path.commonpath([os.path.dirname(path) for path in absolute])
        except ValueError:  # Windows: files on different drives have no common folder
            raise ListError("the listed files have no folder in common (different drives): give --root") from None
    else:
        base = os.path.abspath(root)
        if not os.path.isdir(base):
            raise ListError(f"--root {root} is not a folder")
    files: dict[str, None] = {}
    for name, path in zip(names, absolute):
        if not _inside(path, base):
            raise ListError(f"{name} is not inside --root {root}")
        files[os.path.relpath(path, base)] = None
    return ListedInputs(base, tuple(files))


def iter_listed(
    root: str,
    files: tuple[str, ...],
    file_filter: Filter,
    skip_real: set[str],
    on_skip: Callable[[str], None],
) -> Iterator[tuple[str, str, int]]:
    """Yield ``(path, relative path, -1)`` for the listed files the patterns want, as the scan
    does for a folder: listed folders, Batchmill's temporaries and the output folder's files are
    left out (a listed file that is missing fails when it runs, with its reason)."""
    filtering = bool(file_filter.include or file_filter.exclude)
    outputs = tuple(real.rstrip(os.sep) + os.sep for real in skip_real)
    for relpath in files:
        path = os.path.join(root, relpath)
        name = os.path.basename(relpath)
        if is_tmp_name(name) or (name.endswith(SIDECAR_SUFFIX) and is_sidecar_file(path)):
            continue  # Batchmill's own, never an input (a user's file so named is one)
        if os.path.isdir(path):
            on_skip(f"skipping {path}: a listed folder (list its files)")
            continue
        if outputs and os.path.realpath(path).startswith(outputs):
            on_skip(f"skipping {path}: it is in the output folder")
            continue
        if filtering and not file_filter.wants_file(name, relpath):
            continue
        yield path, relpath, -1


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def inputs_and_files(inputs: list[str], files_from: str | None, null: bool, root: str | None,
                     stdin: BinaryIO) -> tuple[list[str], tuple[str, ...]]:
    """The command line's INPUTs and list options as a JobSpec's ``inputs`` and ``files``."""
    listing = files_from if files_from is not None else STDIN if STDIN in inputs else None
    if listing is None:
        if root is not None:
            raise ListError("--root goes with a list of inputs (- or --files-from)")
        if null:
            raise ListError("-0/--null goes with a list of inputs (- or --files-from)")
        if not inputs:
            raise ListError("run needs INPUT... (files and folders), or a list of them: - or --files-from FILE")
        return inputs, ()
    if [name for name in inputs if name != STDIN] or (files_from is not None and inputs):
        raise ListError("a list of inputs (- or --files-from) cannot be mixed with other INPUTs")
    listed = listed_inputs(read_list(listing, null, stdin), root)
    return [listed.root], listed.files
