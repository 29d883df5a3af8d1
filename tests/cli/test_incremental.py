"""``--overwrite changed``: a run redoes exactly the files whose input, processor, parameters,
code or output changed, and a per-folder output (the checksum manifest) stays whole."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.timeout(300)

RECORDER = Path(__file__).resolve().parent / "scripts" / "record_calls.py"


def batchmill(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "batchmill.gui.launcher", *args], capture_output=True, text=True,
                          timeout=240, env={**os.environ, **(env or {})})


def summary(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    return data


def took_calls(calls: Path) -> list[str]:
    """The inputs the processor ran on since the last look (and forget them)."""
    if not calls.exists():
        return []
    names = calls.read_text().split()
    calls.unlink()
    return sorted(names)


def why(path: Path) -> str:
    result = batchmill("why", str(path))
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_an_incremental_run_redoes_exactly_what_changed(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(1000):
        (folder / f"f{i:04}.txt").write_text(f"file {i:04}\n")
    script = tmp_path / "recorder.py"
    shutil.copy(RECORDER, script)
    calls = tmp_path / "calls.log"
    out = tmp_path / "out"

    def run(*extra: str) -> dict[str, Any]:
        return summary(batchmill("run", "python", str(folder), "--output", str(out), "--param", f"script={script}",
                                 "--overwrite", "changed", "--workers", "2", "--json", "-q", *extra,
                                 env={"RECORD_CALLS": str(calls)}))

    assert run()["done"] == 1000
    assert len(took_calls(calls)) == 1000

    touched = [folder / f"f{i:04}.txt" for i in range(0, 1000, 100)]
    for path in touched:  # same size, other content, a later mtime
        before = path.stat()
        path.write_text(path.read_text().upper())
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 2_000_000_000))
    added = [folder / f"new{i}.txt" for i in range(5)]
    for path in added:
        path.write_text("added\n")
    deleted = [out / "in" / "f0005.txt", out / "in" / "f0006.txt"]
    for path in deleted:
        path.unlink()

    assert "will run again: the input was modified" in why(folder / "f0100.txt")
    assert "will run: no output yet" in why(added[0])
    assert "will run again: the output is missing" in why(deleted[0])
    assert "up to date" in why(folder / "f0001.txt")

    second = run()
    expected = sorted([p.name for p in touched] + [p.name for p in added] + [p.name for p in deleted])
    assert took_calls(calls) == expected
    assert (second["total"], second["done"], second["skipped"]) == (1005, 17, 988)
    assert "up to date" in why(folder / "f0100.txt")
    assert "the input was modified" in why(folder / "f0100.txt")  # why it was made again, on record

    assert run()["done"] == 0  # nothing changed since: all up to date
    assert took_calls(calls) == []

    assert run("--param", "tag=v2")["done"] == 1005  # a parameter changed: everything again
    assert len(took_calls(calls)) == 1005
    assert 'the parameters changed (tag="v2" added)' in why(out / "in" / "f0001.txt")

    script.write_text(script.read_text() + "\n# edited: the same function, another script\n")
    assert "will run again: the code changed" in why(out / "in" / "f0002.txt")
    assert run("--param", "tag=v2")["done"] == 1005  # the user's code changed: everything again
    assert len(took_calls(calls)) == 1005


@pytest.mark.parametrize("policy", ["skip", "changed"])
def test_a_checksum_manifest_covers_every_file_after_files_are_added(tmp_path: Path, policy: str) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(6):
        (folder / f"f{i}.txt").write_text(f"file {i}\n")
    out = tmp_path / "out"
    args = ("run", "checksum", str(folder), "--output", str(out), "--overwrite", policy, "--json", "-q")
    assert summary(batchmill(*args))["done"] == 6
    (folder / "f6.txt").write_text("the seventh\n")

    again = summary(batchmill(*args))

    manifest = out / "in" / "SHA256SUMS"
    lines = manifest.read_text().splitlines()
    assert [line.split("  ", 1)[1] for line in lines] == [f"f{i}.txt" for i in range(7)]
    if policy == "changed":  # six digests reused from the journal, one computed
        assert (again["done"], again["skipped"]) == (1, 6)
    if shutil.which("sha256sum"):
        check = subprocess.run(["sha256sum", "-c", str(manifest)], cwd=folder, capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        assert check.stdout.count(": OK") == 7
