"""Include/exclude patterns: one set of semantics (wcmatch globs) for the CLI, the window and the API.

``*`` stays inside one folder, ``**`` crosses folders, ``[...]`` and ``{a,b}`` work, a pattern
without ``/`` matches a file's name at any depth, and case is ignored on request (or by default
where the platform's file systems ignore it)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from batchmill.core.patterns import Filter, PatternSet, platform_ignores_case
from batchmill.core.scan import iter_folder


@pytest.mark.parametrize(("relpath", "pattern", "matches"), [
    ("a.jpg", "*.jpg", True),
    ("x/y/a.jpg", "*.jpg", True),  # no "/" in the pattern: the name, at any depth
    ("x/y/a.jpg", "x/*", False),  # "*" does not cross "/" (fnmatch's did)
    ("x/a.jpg", "x/*", True),
    ("x/y/a.jpg", "x/**", True),
    ("a.jpg", "**/*.jpg", True),  # "**/" is zero or more folders
    ("x/y/a.jpg", "**/*.jpg", True),
    ("x/y/a.jpg", "x/**/a.jpg", True),
    ("b.jpg", "[ab].jpg", True),
    ("c.jpg", "[ab].jpg", False),
    ("c.jpg", "[!ab].jpg", True),
    ("a.png", "*.{jpg,png}", True),
    ("shot 1.jpg", "shot ?.jpg", True),
    (".hidden.jpg", "*.jpg", True),  # dot files are files like any other
])
def test_glob_semantics(relpath: str, pattern: str, matches: bool) -> None:
    name = relpath.rsplit("/", 1)[-1]
    assert PatternSet((pattern,), ignore_case=False).matches(name, relpath) is matches


def test_case_is_kept_unless_asked_to_ignore_it() -> None:
    assert not PatternSet(("**/*.jpg",), ignore_case=False).matches("A.JPG", "x/A.JPG")
    assert PatternSet(("**/*.jpg",), ignore_case=True).matches("A.JPG", "x/A.JPG")
    assert PatternSet(("X/*.jpg",), ignore_case=True).matches("a.jpg", "x/a.jpg")


def test_the_default_follows_the_platform() -> None:
    assert platform_ignores_case() is (sys.platform in ("win32", "darwin"))
    assert PatternSet(("*.jpg",)).matches("A.JPG", "A.JPG") is platform_ignores_case()


def test_filter_include_then_exclude_and_folders() -> None:
    f = Filter(("*.jpg",), ("raw", "x/skip*"), ignore_case=True)
    assert f.wants_file("a.JPG", "a.JPG")
    assert not f.wants_file("a.txt", "a.txt")
    assert not f.wants_file("skip1.jpg", "x/skip1.jpg")
    assert f.wants_file("skip1.jpg", "y/skip1.jpg")
    assert not f.wants_dir("raw", "y/raw")
    assert f.wants_dir("y", "y")


def test_a_scan_with_globstar_and_ignore_case_picks_nested_camera_files(tmp_path: Path) -> None:
    for rel in ("DCIM/100/IMG_1.JPG", "DCIM/100/IMG_2.jpg", "DCIM/101/sub/IMG_3.JPG", "DCIM/notes.txt", "top.JPG"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(rel)
    found = [rel for _path, rel, _size in iter_folder(tmp_path, Filter(("**/*.jpg",), (), ignore_case=True), True,
                                                      set(), print)]
    sep = "/" if sys.platform != "win32" else "\\"
    assert sorted(found) == [r.replace("/", sep) for r in
                             ("DCIM/100/IMG_1.JPG", "DCIM/100/IMG_2.jpg", "DCIM/101/sub/IMG_3.JPG", "top.JPG")]
    case_kept = [rel for _p, rel, _s in iter_folder(tmp_path, Filter(("**/*.jpg",), (), ignore_case=False), True,
                                                    set(), print)]
    assert case_kept == ["DCIM/100/IMG_2.jpg".replace("/", sep)]
