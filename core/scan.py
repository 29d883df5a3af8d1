"""Lazy input scanning with ``os.scandir``.

Symlinked folders are followed, but each real folder is entered once, so a
link back up the tree cannot loop. The output folder is never scanned, even
when it lies inside an input folder, and neither are Batchmill's own
temporary files and provenance sidecars.
"""

from __future__ import annotations

import operator
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from batchmill.core.file_kinds import describe_odd_entry
from batchmill.core.outputs import is_tmp_name
from batchmill.core.sidecar import SIDECAR_SUFFIX, is_sidecar_file
from batchmill.core.patterns import Filter  # the one set of pattern semantics

__all__ = ["Filter", "iter_folder", "split_skip"]

# The scanner's skip messages (``on_skip``): "<verb> PATH: reason", "not entering PATH again: reason"
_SKIP = re.compile(r"^(?:skipping|not scanning|not reading|cannot read folder|not entering) (.+?)(?::| again:) (.*)$",
                   re.DOTALL)


def split_skip(message: str) -> tuple[str | None, str]:
    """(the path, why) of a message the scan gave ``on_skip``; (None, the message) for another."""
    found = _SKIP.match(message)
    return (found.group(1), found.group(2)) if found else (None, message)


_name = operator.attrgetter("name")


def iter_folder(
    root: Path,
    file_filter: Filter,
    recursive: bool,
    skip_real: set[str],
    on_skip: Callable[[str], None],
    unreadable: dict[str, str] | None = None,
) -> Iterator[tuple[str, str, int]]:
    """Yield ``(path, relative path, -1)`` for every wanted file under ``root``, in a stable order.

    ``unreadable``: a folder that cannot be read is yielded too, and its path mapped here to
    why (a job fails it as an entry of its own); without it, ``on_skip`` is told.

    Plain strings throughout: this runs once per file, and pathlib costs more than the scan."""
    filtering = bool(file_filter.include or file_filter.exclude)
    written = tuple(real.rstrip(os.sep) + os.sep for real in skip_real)
    seen: set[tuple[int, int]] = set()
    stack: list[tuple[str, str]] = [(str(root), "")]
    while stack:
        folder, rel = stack.pop()
        try:
            st = os.stat(folder)
            if (st.st_dev, st.st_ino) in seen:
                on_skip(f"not entering {folder} again: a symlinked folder leads back to it")
                continue
            seen.add((st.st_dev, st.st_ino))
            with os.scandir(folder) as it:
                entries = sorted(it, key=_name)
        except OSError as exc:
            if unreadable is None:
                on_skip(f"cannot read folder {folder}: {exc.strerror or exc}")
            else:  # a failed entry of the job, not a note: its files are missing from it
                unreadable[folder] = f"the folder cannot be read: {exc.strerror or exc}"
                yield folder, rel, -1
            continue
        subfolders: list[tuple[str, str]] = []
        for entry in entries:
            name = entry.name
            try:
                is_dir = entry.is_dir()
                is_file = not is_dir and entry.is_file()
            except OSError:  # a link that loops, for one
                is_dir = is_file = False
            if is_file:
                if is_tmp_name(name) or (name.endswith(SIDECAR_SUFFIX) and is_sidecar_file(entry.path)):
                    continue  # Batchmill's own, never an input (a user's file so named is one)
                relpath = f"{rel}{os.sep}{name}" if rel else name
                if filtering and not file_filter.wants_file(name, relpath):
                    continue
                if written and entry.is_symlink() and os.path.realpath(entry.path).startswith(written):
                    on_skip(f"not reading {entry.path}: it leads into the output folder")
                    continue
                yield entry.path, relpath, -1  # sizes are measured by the workers, in parallel
            elif is_dir:
                relpath = f"{rel}{os.sep}{name}" if rel else name
                if not recursive or not file_filter.wants_dir(name, relpath):
                    continue
                if os.path.realpath(entry.path) in skip_real:
                    on_skip(f"not scanning {entry.path}: it is the output folder")
                    continue
                subfolders.append((entry.path, relpath))
            else:  # by its type, never opened: a FIFO would wait for ever, /dev/zero never ends
                on_skip(f"skipping {entry.path}: {describe_odd_entry(entry.path)}")
        stack.extend(reversed(subfolders))
