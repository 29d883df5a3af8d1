"""Sorting out failed files: where each one is, which failures share a reason, and the user's
own frames of a traceback before Batchmill's.

44 near-identical rows ("cannot process bad17.txt", "cannot process bad18.txt", ...) are one
reason; a traceback that opens with the worker's frames hides the user's line below them.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

_PACKAGE_ROOTS = tuple(str(Path(p).resolve()) + os.sep for p in (
    Path(__file__).resolve().parent,  # batchmill.core (and so batchmill.core.worker and friends)
    Path(__file__).resolve().parent.parent / "gui",
))
_QUOTED = re.compile(r"""'[^']*'|"[^"]*\"""")
_PATHISH = re.compile(r"(?:[A-Za-z]:)?[/\\][^\s:'\"]+")
_NUMBER = re.compile(r"\d+")
_FRAME = re.compile(r'^  File "(?P<file>[^"]+)", line \d+')


def reason_of(error: str) -> str:
    """The reason an error gives, with what varies from file to file (names in quotes, paths,
    numbers) taken out: the key failures are grouped by."""
    text = _QUOTED.sub("'…'", error)
    text = _PATHISH.sub("…", text)
    text = _NUMBER.sub("N", text)
    return text.strip()


def group_reasons(errors: Iterable[str]) -> list[tuple[str, int]]:
    """(reason, how many) for a job's failures, the commonest first."""
    return Counter(reason_of(error) for error in errors).most_common()


def relative_input(path: str, roots: Sequence[str]) -> str:
    """A failed file as the operator dropped it: ``folder/sub/file.txt`` under the dropped folder
    (its own name first), not a bare name whose sub-folder is lost."""
    for root in roots:
        parent = os.path.dirname(root.rstrip(os.sep))
        if path == root or path.startswith(root.rstrip(os.sep) + os.sep):
            return os.path.relpath(path, parent) if parent else path
    return path


def _is_own(file: str) -> bool:
    try:
        resolved = str(Path(file).resolve())
    except OSError:
        return False
    return resolved.startswith(_PACKAGE_ROOTS) or f"{os.sep}multiprocessing{os.sep}" in resolved


def trim_traceback(traceback: str) -> tuple[str, int]:
    """The traceback with Batchmill's own frames (the worker's, multiprocessing's) folded into
    one line, so the user's frames come first; returns it and how many frames were folded."""
    lines = traceback.splitlines()
    out: list[str] = []
    hidden = 0
    i = 0
    while i < len(lines):
        match = _FRAME.match(lines[i])
        if match is None:
            out.append(lines[i])
            i += 1
            continue
        frame = [lines[i]]
        i += 1
        while i < len(lines) and lines[i].startswith("    "):
            frame.append(lines[i])
            i += 1
        if _is_own(match.group("file")):
            hidden += 1
        else:
            out.extend(frame)
    if hidden:
        at = 1 if out and out[0].startswith("Traceback") else 0
        out.insert(at, f"  … {hidden} frame{'s' if hidden != 1 else ''} of Batchmill's own hidden")
    return "\n".join(out), hidden


__all__ = ["group_reasons", "reason_of", "relative_input", "trim_traceback"]
