"""Inputs are sacred: no plan may write over, or into, what the job reads.

What a job reads: every file under its input folders, except the folders it writes (the output
folder and each ``OUTPUT/X.name``), which the scan leaves out; and every dropped file. What it
writes: each planned output, and a processor's final step in ``OUTPUT/X.name``. The two must not
meet, whatever the overwrite policy: ``--output`` the parent of an input folder makes
``OUTPUT/X.name`` the input folder itself, and ``replace`` then rewrote every input in place.

Folders are compared by identity (device and inode, after resolving symbolic links), not by
spelling, so a symlink or a bind mount does not hide an overlap. Root-level overlaps are
refused before the job starts; each output folder met while planning is checked once (a symlink
left in an old output tree can lead back into an input), before any file is written there.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from batchmill.core.processors.base import RootOutput

Identity = tuple[int, int]  # (st_dev, st_ino)
ADVICE = "choose an output folder outside the inputs"


class OverlapError(ValueError):
    """A plan that would write over or into an input; the message names both paths."""


def identity(path: str) -> Identity | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def lineage(path: str) -> list[tuple[str, Identity | None]]:
    """The real path of ``path`` and of every folder above it, nearest first, each with its
    identity (None for a part that does not exist yet)."""
    real = os.path.realpath(path)
    found = []
    while True:
        found.append((real, identity(real)))
        parent = os.path.dirname(real)
        if parent == real:
            return found
        real = parent


class InputGuard:
    """Knows where a job reads and where it may write; refuses a write into what it reads."""

    def __init__(self, roots: Sequence[RootOutput], output: str | Path) -> None:
        self.roots = list(roots)
        self.output = str(output)
        self.input_folders: dict[Identity, str] = {}
        self.input_files: dict[tuple[Identity, str], str] = {}  # (folder, normcased name) -> input
        for root in self.roots:
            ident = identity(str(root.input))
            if ident is None:
                continue
            if root.is_dir:
                self.input_folders.setdefault(ident, str(root.input))
            else:
                real = os.path.realpath(root.input)
                folder = identity(os.path.dirname(real))
                if folder is not None:
                    self.input_files[(folder, os.path.normcase(os.path.basename(real)))] = str(root.input)
        # Folders the scan never enters: writing there is writing beside the inputs, not into them.
        self.written_real = self.skipped_real_paths()
        self.written_folders = {ident for ident in map(identity, self.written_real) if ident is not None}
        self._folders: dict[str, Identity | None] = {}  # output folder -> its identity, once checked

    def skipped_real_paths(self) -> set[str]:
        """The real paths of the folders the job writes, for the scan to leave out."""
        return {os.path.realpath(self.output), *(os.path.realpath(r.output) for r in self.roots if r.is_dir)}

    def check_roots(self) -> None:
        """Refuse an input folder's output folder that is an input folder, or holds an input."""
        for root in self.roots:
            if not root.is_dir:
                continue
            out = identity(str(root.output))
            if out is None:
                continue  # not there yet: it can be neither an input nor hold one
            for other in self.roots:
                chain = [ident for _real, ident in lineage(str(other.input)) if ident is not None]
                if out not in chain:
                    continue
                if chain[0] == out:
                    what = "the input folder" if other.is_dir else "the input"
                    raise OverlapError(f"the output folder {root.output} of input {root.input} is {what} "
                                       f"{other.input} itself; {ADVICE}")
                raise OverlapError(f"the output folder {root.output} of input {root.input} holds the input "
                                   f"{other.input}; {ADVICE}")

    def check_output(self, folder: str, name: str, src: str) -> None:
        """Refuse writing ``folder/name`` (the output of ``src``) if it is an input, or lies in a
        folder the job reads. Each folder is looked at once; this runs for every planned file."""
        try:
            ident = self._folders[folder]
        except KeyError:
            ident = self._check_folder(folder, os.path.join(folder, name), src)
        if ident is not None and self.input_files:
            other = self.input_files.get((ident, os.path.normcase(name)))
            if other is not None:
                raise OverlapError(f"the output {os.path.join(folder, name)} of input {src} is the input {other} "
                                   f"itself; {ADVICE}")

    def _check_folder(self, folder: str, dst: str, src: str) -> Identity | None:
        read = self.input_folder_holding(folder)
        if read is not None:
            raise OverlapError(f"the output {dst} of input {src} would be written into the input folder {read}; "
                               f"{ADVICE}")
        ident = identity(folder)
        self._folders[folder] = ident
        return ident

    def check_final_step(self, folder: str, processor: str, src: str) -> None:
        """Refuse a processor's final step (checksum's manifest) writing into a folder the job reads."""
        read = self.input_folder_holding(folder)
        if read is not None:
            raise OverlapError(f"the final step of {processor!r} for input {src} would write into the input "
                               f"folder {read}; {ADVICE}")

    def input_folder_holding(self, folder: str) -> str | None:
        """The input folder whose scan reads ``folder``, if any."""
        # Nearest first: the first input folder or written folder met decides (an input folder
        # that is also the output folder is read: its own files are scanned).
        for real, ident in lineage(folder):
            if ident is not None and ident in self.input_folders:
                return self.input_folders[ident]
            if real in self.written_real or (ident is not None and ident in self.written_folders):
                return None
        return None
