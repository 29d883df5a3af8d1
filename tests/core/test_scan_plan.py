"""Scanning (lazy, loop-proof, filtered) and planning (layout, overwrite policy, collisions), in-process."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from batchmill.core.events import FileStatus
from batchmill.core.outputs import free_name, is_tmp_name, tmp_path_for
from batchmill.core.plan import PlanError, PlannedFile, iter_plan, plan_roots
from batchmill.core.processors import get_processor
from batchmill.core.processors.base import Processor
from batchmill.core.scan import Filter, iter_folder
from batchmill.core.spec import JobSpec, Overwrite, parse_halt

POSIX = pytest.mark.skipif(sys.platform == "win32", reason="symlinks and FIFOs need POSIX here")


class CopyProcessor(Processor):
    name = "copy"


class ToOutProcessor(Processor):
    """Names every output ``<stem>.out``, so ``a.txt`` and ``a.csv`` claim the same output."""

    name = "to-out"

    def output_name(self, params: Mapping[str, Any], name: str) -> str | None:
        return Path(name).stem + ".out"


def make_tree(root: Path, files: list[str]) -> Path:
    for rel in files:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rel)
    return root


def scan(root: Path, include: tuple[str, ...] = (), exclude: tuple[str, ...] = (), recursive: bool = True,
         skip: set[str] | None = None) -> tuple[list[str], list[str]]:
    notes: list[str] = []
    found = list(iter_folder(root, Filter(include, exclude), recursive, skip or set(), notes.append))
    assert all(path == os.path.join(root, rel) for path, rel, _ in found)
    return [Path(rel).as_posix() for _, rel, _ in found], notes


def plan(spec: JobSpec, processor: Processor | None = None) -> tuple[list[PlannedFile], list[str]]:
    processor = processor or CopyProcessor()
    notes: list[str] = []
    roots = plan_roots(spec)
    return list(iter_plan(spec, processor, processor.validate(spec.params), roots, notes.append)), notes


# -- scanning ---------------------------------------------------------------------------------
def test_scan_yields_every_file_once_in_a_stable_order(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "in", ["b.txt", "a.txt", "sub/c.txt", "sub/deeper/d.txt", "z/e.txt"])

    assert scan(root) == (["a.txt", "b.txt", "sub/c.txt", "sub/deeper/d.txt", "z/e.txt"], [])


def test_scan_is_lazy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_tree(tmp_path / "in", ["a.txt"] + [f"sub{i}/f.txt" for i in range(5)])
    opened: list[str] = []
    real_scandir = os.scandir

    def counting_scandir(path: Any) -> Any:
        opened.append(str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", counting_scandir)
    found = iter_folder(root, Filter((), ()), True, set(), lambda note: None)

    assert isinstance(found, Iterator) and opened == []
    first = next(found)
    assert first[0] == str(root / "a.txt") and opened == [str(root)]


def test_scan_without_recursion_stays_in_the_top_folder(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "in", ["a.txt", "sub/b.txt"])

    assert scan(root, recursive=False) == (["a.txt"], [])


def test_scan_applies_include_and_exclude_to_names_and_relative_paths(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "in", ["a.txt", "b.csv", "keep/c.txt", "keep/d.txt", "skipme/e.txt", "x/skipme.txt"])

    included, _ = scan(root, include=("*.txt",), exclude=("skipme", "keep/d.txt"))

    assert included == ["a.txt", "keep/c.txt", "x/skipme.txt"]
    assert scan(root, include=("keep/*",))[0] == ["keep/c.txt", "keep/d.txt"]


@POSIX
def test_scan_enters_each_real_folder_once_through_a_symlink_loop(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "in", ["a.txt", "sub/b.txt"])
    (root / "sub" / "back-to-top").symlink_to(root, target_is_directory=True)

    found, notes = scan(root)

    assert found == ["a.txt", "sub/b.txt"]
    assert notes == [f"not entering {root / 'sub' / 'back-to-top'} again: a symlinked folder leads back to it"]


@POSIX
def test_scan_follows_a_symlinked_folder_outside_the_input(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "in", ["a.txt"])
    elsewhere = make_tree(tmp_path / "elsewhere", ["far.txt"])
    (root / "linked").symlink_to(elsewhere, target_is_directory=True)

    assert scan(root) == (["a.txt", "linked/far.txt"], [])


@POSIX
def test_scan_reports_broken_links_and_special_files(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "in", ["a.txt"])
    (root / "dangling").symlink_to(tmp_path / "gone")
    os.mkfifo(root / "pipe")

    found, notes = scan(root)

    assert found == ["a.txt"]
    assert notes == [f"skipping {root / 'dangling'}: a broken symbolic link",
                     f"skipping {root / 'pipe'}: a FIFO (named pipe), not a regular file"]


def test_scan_leaves_out_batchmill_temporaries_but_not_other_hidden_files(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "in", ["a.txt", ".hidden", ".a.txt.0123abcd.bmpart"])

    assert scan(root)[0] == [".hidden", "a.txt"]


def test_scan_never_enters_the_output_folder(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "in", ["a.txt", "out/in/a.txt", "out/in/SHA256SUMS"])

    found, notes = scan(root, skip={os.path.realpath(root / "out")})

    assert found == ["a.txt"]
    assert notes == [f"not scanning {root / 'out'}: it is the output folder"]


# -- planning the roots -----------------------------------------------------------------------
def test_a_missing_input_stops_the_job_naming_it(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match=f"input {tmp_path / 'nope'} does not exist"):
        plan_roots(JobSpec("copy", (str(tmp_path / "nope"),), str(tmp_path / "out")))


def test_two_inputs_with_one_output_stop_the_job_naming_both(tmp_path: Path) -> None:
    first = make_tree(tmp_path / "a" / "data", ["x.txt"])
    second = make_tree(tmp_path / "b" / "data", ["y.txt"])

    with pytest.raises(PlanError) as caught:
        plan_roots(JobSpec("copy", (str(first), str(second)), str(tmp_path / "out")))

    assert str(caught.value).startswith(
        f"inputs {first} and {second} would both write to {tmp_path / 'out' / 'data'}")


def test_two_single_files_with_the_same_name_collide(tmp_path: Path) -> None:
    make_tree(tmp_path, ["a/same.txt", "b/same.txt"])

    with pytest.raises(PlanError, match="would both write to"):
        plan_roots(JobSpec("copy", (str(tmp_path / "a/same.txt"), str(tmp_path / "b/same.txt")), str(tmp_path / "o")))


def test_an_output_that_is_a_file_stops_the_job(tmp_path: Path) -> None:
    make_tree(tmp_path, ["in/a.txt", "out"])

    with pytest.raises(PlanError, match=f"output {tmp_path / 'out'} exists and is not a folder"):
        plan_roots(JobSpec("copy", (str(tmp_path / "in"),), str(tmp_path / "out")))


# -- planning the files -----------------------------------------------------------------------
def test_folders_are_mirrored_and_single_files_land_in_the_output(tmp_path: Path) -> None:
    make_tree(tmp_path, ["photos/a.jpg", "photos/2024/b.jpg", "loose/c.jpg"])
    out = tmp_path / "out"
    spec = JobSpec("copy", (str(tmp_path / "photos"), str(tmp_path / "loose" / "c.jpg")), str(out))

    planned, notes = plan(spec)

    assert [(p.root, p.src, p.dst, p.status) for p in planned] == [
        (0, str(tmp_path / "photos/a.jpg"), str(out / "photos/a.jpg"), FileStatus.PENDING),
        (0, str(tmp_path / "photos/2024/b.jpg"), str(out / "photos/2024/b.jpg"), FileStatus.PENDING),
        (1, str(tmp_path / "loose/c.jpg"), str(out / "c.jpg"), FileStatus.PENDING),
    ]
    assert notes == []


def test_a_processor_without_file_outputs_plans_none(tmp_path: Path) -> None:
    make_tree(tmp_path, ["in/a.txt"])

    planned, _ = plan(JobSpec("checksum", (str(tmp_path / "in"),), str(tmp_path / "out")), get_processor("checksum"))

    assert [(p.src, p.dst) for p in planned] == [(str(tmp_path / "in/a.txt"), None)]


@pytest.mark.parametrize(("policy", "status", "name"), [
    (Overwrite.SKIP, FileStatus.SKIPPED, "a.txt"),
    (Overwrite.REPLACE, FileStatus.PENDING, "a.txt"),
    (Overwrite.RENAME, FileStatus.PENDING, "a (2).txt"),
])
def test_existing_outputs_follow_the_overwrite_policy(tmp_path: Path, policy: Overwrite, status: FileStatus,
                                                      name: str) -> None:
    make_tree(tmp_path, ["in/a.txt", "in/b.txt", "out/in/a.txt", "out/in/a (1).txt"])

    planned, _ = plan(JobSpec("copy", (str(tmp_path / "in"),), str(tmp_path / "out"), overwrite=policy))

    assert [(Path(p.dst).name, p.status) for p in planned] == [(name, status), ("b.txt", FileStatus.PENDING)]


def test_two_files_planned_onto_one_output_stop_the_job_naming_both(tmp_path: Path) -> None:
    make_tree(tmp_path, ["in/a.csv", "in/a.txt"])

    with pytest.raises(PlanError) as caught:
        plan(JobSpec("to-out", (str(tmp_path / "in"),), str(tmp_path / "out")), ToOutProcessor())

    assert str(caught.value) == (f"inputs {tmp_path / 'in/a.csv'} and {tmp_path / 'in/a.txt'} would both write "
                                 f"{tmp_path / 'out/in/a.out'}")


def test_an_output_folder_inside_the_input_is_left_out_and_said_so(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "in", ["a.txt", "sub/b.txt", "results/in/a.txt"])
    spec = JobSpec("copy", (str(root),), str(root / "results"))

    planned, notes = plan(spec)

    assert [Path(p.src).relative_to(root).as_posix() for p in planned] == ["a.txt", "sub/b.txt"]
    assert notes == [f"the output folder {root / 'results'} is inside the input {root}; it is left out of the scan",
                     f"not scanning {root / 'results'}: it is the output folder"]


def test_planning_is_lazy(tmp_path: Path) -> None:
    make_tree(tmp_path, ["in/a.txt"])
    spec = JobSpec("copy", (str(tmp_path / "in"),), str(tmp_path / "out"))

    planned = iter_plan(spec, CopyProcessor(), {}, plan_roots(spec), lambda note: None)

    assert isinstance(planned, Iterator)
    assert next(planned).src == str(tmp_path / "in/a.txt")


# -- names and the spec -----------------------------------------------------------------------
def test_temporary_names_are_hidden_per_job_and_recognised(tmp_path: Path) -> None:
    tmp = tmp_path_for(tmp_path / "out" / "photo.jpg", "0123abcd4567")

    assert tmp == tmp_path / "out" / ".photo.jpg.0123abcd.bmpart"
    assert is_tmp_name(tmp.name) and not is_tmp_name("photo.jpg") and not is_tmp_name(".photo.jpg.bmpart")


def test_free_name_skips_names_on_disk_and_names_already_taken(tmp_path: Path) -> None:
    make_tree(tmp_path, ["a.txt", "a (1).txt"])

    assert free_name(tmp_path / "a.txt", {str(tmp_path / "a (2).txt")}) == tmp_path / "a (3).txt"


def test_a_spec_round_trips_through_json(tmp_path: Path) -> None:
    spec = JobSpec("checksum", (str(tmp_path / "in"),), str(tmp_path / "out"), params={"algorithm": "md5"},
                   include=("*.txt",), overwrite=Overwrite.RENAME, workers=3, timeout_s=2.5, retries=1,
                   max_files_per_worker=10, halt_after="10%")

    assert JobSpec.from_json(spec.to_json()) == spec


@pytest.mark.parametrize(("changes", "message"), [
    ({"workers": 0}, "workers must be at least 1"),
    ({"retries": -1}, "retries must be 0 or more"),
    ({"timeout_s": 0}, "timeout must be a positive number"),
    ({"halt_after": "lots"}, "--halt-after takes a number of failures"),
])
def test_a_bad_spec_is_refused_with_a_message(tmp_path: Path, changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        JobSpec("checksum", (str(tmp_path),), str(tmp_path / "out"), **changes)


def test_halt_after_reads_counts_and_percentages() -> None:
    assert parse_halt("5") == (5, None) and parse_halt("12.5%") == (None, 12.5)
