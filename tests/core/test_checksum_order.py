"""A checksum manifest lists its folder by name whatever order the files ran and finished in: the
engine hands the final step its results sorted by root and input (on disk past a bound), and the
manifest is written from them as they come when each folder is one root's, sorted again when not
(folders given out of order, dropped files that share one folder)."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import batchmill.core.spill
from batchmill.core.engine import Engine
from batchmill.core.events import JobState
from batchmill.core.spec import JobSpec
from engine_driver import run_job

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def engine(batchmill_home: Path) -> Iterator[Engine]:
    with Engine(batchmill_home) as engine:
        yield engine


def make_files(folder: Path, names: list[str]) -> dict[str, str]:
    digests = {}
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"{folder.name}/{name}".encode())
        digests[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def manifest_of(path: Path) -> list[tuple[str, str]]:
    return [(line[66:], line[:64]) for line in path.read_text().splitlines()]


# 'a.txt' sorts before 'a/b.txt' ('.' < '/'), though a folder's files are scanned before its sub-folders
NAMES = ["a.txt", "a/b.txt", "a/c/d.txt", "b.txt"] + [f"many/f{i:03d}.txt" for i in range(60)]


def test_folders_given_out_of_order_get_manifests_listed_by_name(
        engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batchmill.core.spill, "RUN_SIZE", 7)  # results sorted on disk, in many runs
    zeta, alpha = make_files(tmp_path / "zeta", NAMES), make_files(tmp_path / "alpha", NAMES[:3])
    out = tmp_path / "out"
    spec = JobSpec("checksum", (str(tmp_path / "zeta"), str(tmp_path / "alpha")), str(out), workers=2)

    run = run_job(engine, spec)

    assert run.finished.state is JobState.COMPLETED, run.finished
    for folder, digests in (("zeta", zeta), ("alpha", alpha)):
        manifest = out / folder / "SHA256SUMS"
        assert manifest_of(manifest) == sorted(digests.items()), folder
        check = subprocess.run(["sha256sum", "--strict", "-c", str(manifest)], cwd=tmp_path / folder,
                               capture_output=True, timeout=30)
        assert check.returncode == 0, check.stdout + check.stderr


def test_dropped_files_of_two_folders_share_one_manifest_listed_by_name(
        engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batchmill.core.spill, "RUN_SIZE", 2)
    one, two = make_files(tmp_path / "one", ["z.txt", "m.txt"]), make_files(tmp_path / "two", ["a.txt", "y.txt"])
    inputs = [tmp_path / "one" / "z.txt", tmp_path / "two" / "y.txt", tmp_path / "one" / "m.txt",
              tmp_path / "two" / "a.txt"]
    out = tmp_path / "out"

    run = run_job(engine, JobSpec("checksum", tuple(map(str, inputs)), str(out), workers=2))

    assert run.finished.state is JobState.COMPLETED, run.finished
    assert manifest_of(out / "SHA256SUMS") == sorted([*one.items(), *two.items()])
