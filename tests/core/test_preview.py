"""The preview, in-process: each verdict the run's own rules give, the scanner's skips, a lazy
scan (verdicts stream before the scan ends), and batchmill.preview() in the API."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import batchmill
from batchmill.core.journal import Journal
from batchmill.core.preview import Verdict, iter_preview, set_up
from batchmill.core.spec import JobSpec, Overwrite

POSIX = pytest.mark.skipif(sys.platform == "win32", reason="symlinks need POSIX here")
COPY = "def process(src, dst):\n    dst.write_bytes(src.read_bytes())\n"


def folder_with(root: Path, names: list[str]) -> Path:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{name}\n")
    return root


def verdicts(spec: JobSpec) -> dict[str, tuple[Verdict, str | None]]:
    journal = Journal()
    try:
        return {Path(v.input or "?").name: (v.verdict, v.output) for v in iter_preview(set_up(spec, journal))}
    finally:
        journal.close()


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "copy.py"
    path.write_text(COPY)
    return path


@pytest.mark.parametrize(("policy", "verdict", "output"), [
    (Overwrite.SKIP, Verdict.KEEP, "a.txt"),
    (Overwrite.REPLACE, Verdict.REPLACE, "a.txt"),
    (Overwrite.RENAME, Verdict.RENAME, "a (1).txt"),
    (Overwrite.CHANGED, Verdict.CHANGED, "a.txt"),  # an output nobody recorded making is made again
])
def test_an_existing_output_gets_the_verdict_of_the_policy(tmp_path: Path, script: Path, policy: Overwrite,
                                                           verdict: Verdict, output: str) -> None:
    folder = folder_with(tmp_path / "in", ["a.txt", "b.txt"])
    out = tmp_path / "out"
    folder_with(out / "in", ["a.txt"])
    spec = JobSpec("python", (str(folder),), str(out), {"script": str(script)}, overwrite=policy)

    found = verdicts(spec)

    assert found["a.txt"] == (verdict, str(out / "in" / output))
    assert found["b.txt"] == (Verdict.NEW, str(out / "in" / "b.txt"))


@POSIX
def test_broken_links_and_patterns_are_shown_with_their_reason(tmp_path: Path, script: Path) -> None:
    folder = folder_with(tmp_path / "in", ["a.txt", "cache/c.txt", "z.log"])
    (folder / "dangling").symlink_to(folder / "nowhere")
    spec = JobSpec("python", (str(folder),), str(tmp_path / "out"), {"script": str(script)},
                   exclude=("cache",), include=("*.txt",))
    journal = Journal()
    try:
        found = {Path(v.input or "").name: v for v in iter_preview(set_up(spec, journal))}
    finally:
        journal.close()

    assert found["a.txt"].verdict is Verdict.NEW
    assert found["dangling"].verdict is Verdict.SCAN_SKIPPED and "broken symbolic link" in found["dangling"].reason
    assert (found["c.txt"].verdict, found["c.txt"].reason) == (Verdict.EXCLUDED, "--exclude cache (its folder cache)")
    assert (found["z.log"].verdict, found["z.log"].reason) == (Verdict.EXCLUDED, "matches no --include (*.txt)")


def test_verdicts_stream_while_the_scan_goes_on(tmp_path: Path, script: Path) -> None:
    folder = folder_with(tmp_path / "in", ["a/1.txt", "b/2.txt"])
    spec = JobSpec("python", (str(folder),), str(tmp_path / "out"), {"script": str(script)})
    journal = Journal()
    try:
        stream = iter_preview(set_up(spec, journal))
        first = next(stream)
        (folder / "b" / "3.txt").write_text("made after the first verdict\n")  # folder b is not scanned yet
        rest = list(stream)
    finally:
        journal.close()

    assert Path(first.input or "").name == "1.txt"
    assert [Path(v.input or "").name for v in rest] == ["2.txt", "3.txt"]


def test_the_api_preview_counts_a_function_job_without_running_it(tmp_path: Path) -> None:
    folder = folder_with(tmp_path / "in", ["a.txt", "b.txt", "c.tmp"])
    ran: list[Path] = []

    preview = batchmill.preview(lambda src, dst: ran.append(src), folder, tmp_path / "out", exclude=["*.tmp"])

    names = {Path(v.input).name: v.verdict.value for v in preview}
    assert names == {"a.txt": "new", "b.txt": "new", "c.tmp": "excluded"}
    assert preview.counts == {"new": 2, "excluded": 1} and preview.to_run == 2 and preview.collisions == 0
    assert ran == [] and not (tmp_path / "out").exists()


def test_the_api_preview_refuses_a_job_that_cannot_start(tmp_path: Path) -> None:
    with pytest.raises(batchmill.JobError, match="does not exist"):
        batchmill.preview("checksum", tmp_path / "missing", tmp_path / "out")
