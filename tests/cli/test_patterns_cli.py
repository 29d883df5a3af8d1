"""Patterns on the command line: ``**``, classes and ``--ignore-case``; a job that matches no file
says so and exits 4 (batchmill.core.exit_status), with the ``--json`` object too."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(120)


def batchmill(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "batchmill.gui.launcher", *args], capture_output=True, text=True,
                          timeout=90)


def camera_card(root: Path) -> Path:
    for rel in ("DCIM/100/IMG_1.JPG", "DCIM/100/IMG_2.JPG", "DCIM/101/deep/IMG_3.JPG", "DCIM/notes.txt"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(rel.encode())
    return root


def test_globstar_and_ignore_case_pick_nested_upper_case_files(tmp_path: Path) -> None:
    card = camera_card(tmp_path / "card")

    result = batchmill("run", "checksum", str(card), "--output", str(tmp_path / "out"),
                       "--include", "**/*.jpg", "--ignore-case", "--json")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["done"] == 3
    manifest = (tmp_path / "out" / "card" / "SHA256SUMS").read_text()
    assert [line.split("  ", 1)[1] for line in manifest.splitlines()] == [
        "DCIM/100/IMG_1.JPG", "DCIM/100/IMG_2.JPG", "DCIM/101/deep/IMG_3.JPG"]


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="patterns ignore case there by default")
def test_a_job_matching_nothing_says_so_and_exits_4(tmp_path: Path) -> None:
    card = camera_card(tmp_path / "card")

    result = batchmill("run", "checksum", str(card), "--output", str(tmp_path / "out"), "--include", "*.jpg",
                       "--json")

    assert result.returncode == 4, result.stderr
    assert "no file matched: no file of the inputs passes --include '*.jpg'" in result.stderr
    assert "--ignore-case" in result.stderr
    data = json.loads(result.stdout)
    assert (data["state"], data["total"], data["error"]) == ("completed", 0, data["error"])
    assert data["error"].startswith("no file matched")


def test_an_empty_folder_is_nothing_to_do_too(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()

    result = batchmill("run", "checksum", str(tmp_path / "empty"), "--output", str(tmp_path / "out"))

    assert result.returncode == 4
    assert "no file to process: the inputs hold no files" in result.stderr


def test_case_sensitive_overrides_the_platform(tmp_path: Path) -> None:
    card = camera_card(tmp_path / "card")

    result = batchmill("run", "checksum", str(card), "--output", str(tmp_path / "out"), "--include", "*.jpg",
                       "--case-sensitive", "--json")

    assert result.returncode == 4
    assert json.loads(result.stdout)["total"] == 0
