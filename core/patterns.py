"""Include and exclude patterns: the one set of semantics the CLI, the window and the API share.

Globs as shells and ``.gitignore`` users know them, from wcmatch: ``*`` and ``?`` stay within one
folder, ``**`` crosses folders (``**/*.jpg`` is every ``.jpg`` at any depth, the top level too),
``[abc]``, ``[!abc]`` and ``{jpg,png}`` work. A pattern is tried against a file's name and against
its path relative to its input (written with ``/`` on every platform), so ``*.jpg`` matches at any
depth and ``raw/*.tif`` only in the top-level ``raw`` folder.

Case: ``ignore_case`` True or False, or None for the platform's habit: Windows' and macOS' file
systems ignore case, so a ``*.jpg`` there picks a camera's ``.JPG`` files; Linux's do not.
"""

from __future__ import annotations

import os
import sys


def platform_ignores_case() -> bool:
    """True where the usual file systems ignore case (NTFS, APFS), so patterns do too by default."""
    return sys.platform in ("win32", "darwin")


class PatternSet:
    """A list of globs, compiled once; ``matches`` is called per file by the scan."""

    def __init__(self, patterns: tuple[str, ...], ignore_case: bool | None = None) -> None:
        self.patterns = tuple(patterns)
        self.ignore_case = platform_ignores_case() if ignore_case is None else ignore_case
        self._matcher = None
        if self.patterns:  # wcmatch only when there are patterns: its import is ~7 ms of every job's start
            from wcmatch import glob

            flags = glob.GLOBSTAR | glob.BRACE | glob.DOTGLOB | glob.FORCEUNIX
            self._matcher = glob.compile(list(self.patterns), flags=flags | (glob.IGNORECASE if self.ignore_case else 0))

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def matches(self, name: str, relpath: str) -> bool:
        """True when the file's name or its relative path matches one of the patterns."""
        matcher = self._matcher
        if matcher is None:
            return False
        if os.sep != "/":
            relpath = relpath.replace(os.sep, "/")
        return bool(matcher.match(name) or (relpath != name and matcher.match(relpath)))


class Filter:
    """Include/exclude globs, matched against a file's name and its path relative to its input."""

    def __init__(self, include: tuple[str, ...], exclude: tuple[str, ...], ignore_case: bool | None = None) -> None:
        self.include = tuple(include)
        self.exclude = tuple(exclude)
        self._include = PatternSet(self.include, ignore_case)
        self._exclude = PatternSet(self.exclude, ignore_case)
        self.ignore_case = self._include.ignore_case

    def wants_file(self, name: str, relpath: str) -> bool:
        if self._include and not self._include.matches(name, relpath):
            return False
        return not self._exclude.matches(name, relpath)

    def wants_dir(self, name: str, relpath: str) -> bool:
        return not self._exclude.matches(name, relpath)


def describe_no_match(include: tuple[str, ...], exclude: tuple[str, ...], ignore_case: bool | None) -> str:
    """What a job that found no file says, in the CLI, the window and the API alike."""
    if not include and not exclude:
        return "no file to process: the inputs hold no files"
    told = []
    if include:
        told.append("--include " + " ".join(repr(p) for p in include))
    if exclude:
        told.append("--exclude " + " ".join(repr(p) for p in exclude))
    case = platform_ignores_case() if ignore_case is None else ignore_case
    hint = "" if case else (" (patterns are case-sensitive here: with --ignore-case, or the window's Ignore case, "
                            "*.jpg matches .JPG too)")
    return f"no file matched: no file of the inputs passes {' and '.join(told)}{hint}"
