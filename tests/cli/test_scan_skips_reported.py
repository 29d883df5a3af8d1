"""Entries the scan skips (a broken link, a special file, a link back up the tree) are counted in
the ``--json`` summary and the job's report (``batchmill show``), each with its reason, and in the
API's JobResult: not only a line on stderr beside ``skipped: 0``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import batchmill

pytestmark = pytest.mark.timeout(120)


def batchmill_cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "batchmill.gui.launcher", *args], capture_output=True, text=True,
                          timeout=90, env={**os.environ, "BATCHMILL_HOME": str(home)})


def odd_folder(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """in/ with two files, a broken link, a FIFO and a link back to in/ itself; the reasons expected."""
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("alpha\n")
    (folder / "sub" / "b.txt").write_text("beta\n")
    os.symlink(tmp_path / "nowhere", folder / "broken.txt")
    os.mkfifo(folder / "pipe")
    os.symlink(folder, folder / "sub" / "loop")
    return folder, {str(folder / "broken.txt"): "a broken symbolic link",
                    str(folder / "pipe"): "a FIFO (named pipe), not a regular file",
                    str(folder / "sub" / "loop"): "a symlinked folder leads back to it"}


def skips_of(data: dict[str, Any]) -> dict[str, str]:
    return {entry["path"]: entry["reason"] for entry in data["scan_skips"]}


def test_the_json_summary_and_the_jobs_report_count_scan_skips_with_their_reasons(tmp_path: Path) -> None:
    folder, expected = odd_folder(tmp_path)
    home = tmp_path / "home"

    run = batchmill_cli("run", "checksum", str(folder), "--output", str(tmp_path / "out"), "--json", "-q", home=home)

    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert (summary["total"], summary["done"], summary["skipped"]) == (2, 2, 0)
    assert summary["scan_skipped"] == 3 and skips_of(summary) == expected
    shown = batchmill_cli("show", summary["job_id"], "--json", home=home)
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    assert report["scan_skipped"] == 3 and skips_of(report) == expected
    text = batchmill_cli("show", summary["job_id"], home=home).stdout
    assert "3 skipped by the scan" in text, text
    for path, reason in expected.items():
        assert f"{path}: {reason}" in text, text
    plain = batchmill_cli("run", "checksum", str(folder), "--output", str(tmp_path / "out2"), home=home)
    assert "3 entries skipped by the scan" in plain.stderr, plain.stderr


def test_the_apis_result_lists_scan_skips(tmp_path: Path) -> None:
    folder, expected = odd_folder(tmp_path)

    result = batchmill.run("checksum", folder, tmp_path / "out", home=tmp_path / "home", workers=1)

    assert result.ok and result.total == 2
    assert {str(skip.path): skip.reason for skip in result.scan_skips} == expected
    assert result.scan_skipped == 3


def test_thousands_of_skips_are_counted_not_streamed_line_by_line(tmp_path: Path) -> None:
    """3,000 broken links: the live output names the first few and says the rest are counted; the
    summary and --json stay bounded (a sample of them, the count of all), none counted twice."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text("alpha\n")
    for n in range(3000):
        os.symlink(tmp_path / f"nowhere{n}", folder / f"link{n:04d}")
    home = tmp_path / "home"

    run = batchmill_cli("run", "checksum", str(folder), "--output", str(tmp_path / "out"), home=home)

    assert run.returncode == 0, run.stderr
    lines = run.stderr.splitlines()
    assert len(lines) < 100, f"{len(lines)} lines on stderr"
    assert f"skipping {folder / 'link0000'}: a broken symbolic link" in lines
    assert "3000 entries skipped by the scan (not files of the job):" in lines, run.stderr
    assert sum("link" in line for line in lines) <= 2 * 20 + 2
    as_json = batchmill_cli("run", "checksum", str(folder), "--output", str(tmp_path / "out2"), "--json", "-q",
                            home=home)
    summary = json.loads(as_json.stdout)
    assert summary["scan_skipped"] == 3000 and 0 < len(summary["scan_skips"]) <= 1000
