"""Provenance: ``batchmill why OUTPUT`` names the input, processor, parameters, payload hash and
versions that made it; ``show --json --files`` lists every file with its return value."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from batchmill.core import __version__

pytestmark = pytest.mark.timeout(120)

RECORDER = Path(__file__).resolve().parent / "scripts" / "record_calls.py"


def batchmill(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "batchmill.gui.launcher", *args], capture_output=True, text=True,
                          timeout=90, env={**os.environ, **(env or {})})


def run_job(folder: Path, out: Path, calls: Path, *extra: str) -> dict[str, Any]:
    result = batchmill("run", "python", str(folder), "--output", str(out), "--param", f"script={RECORDER}",
                       "--param", "tag=t7", "--json", "-q", *extra, env={"RECORD_CALLS": str(calls)})
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    return data


def test_why_an_output_names_what_made_it(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text("alpha\n")
    out = tmp_path / "out"
    job = run_job(folder, out, tmp_path / "calls.log", "--overwrite", "changed")

    result = batchmill("why", str(out / "in" / "a.txt"), "--json")

    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)["records"][0]
    assert record["input"] == str(folder / "a.txt") and record["output"] == str(out / "in" / "a.txt")
    assert record["input_size"] == 6 and record["input_mtime_ns"] == (folder / "a.txt").stat().st_mtime_ns
    assert record["output_size"] == (out / "in" / "a.txt").stat().st_size
    assert record["processor"] == "python" and record["processor_version"] == "1"
    assert record["params"]["kwargs"] == {"tag": "t7"} and record["params"]["script"] == str(RECORDER)
    assert record["code"].startswith("script:") and len(record["payload_hash"]) == 64
    assert record["batchmill_version"] == __version__ and record["job_id"] == job["job_id"]
    assert record["result"] == {"name": "a.txt", "bytes": 6, "tag": "t7"}
    assert record["now"]["verdict"] == "up to date"
    text = batchmill("why", str(out / "in" / "a.txt")).stdout
    for words in (f"from input   {folder / 'a.txt'}", "processor    python version 1", '"tag": "t7"',
                  f"payload hash {record['payload_hash']}", f"Batchmill {__version__}", "next run     up to date"):
        assert words in text, (words, text)


def test_show_files_lists_every_file_with_its_return_value(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.txt", "bb.txt"):
        (folder / name).write_text(name)
    job = run_job(folder, tmp_path / "out", tmp_path / "calls.log")

    result = batchmill("show", job["job_id"], "--json", "--files")

    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    files = {Path(f["input"]).name: f for f in data["files"]}
    assert {name: f["result"] for name, f in files.items()} == {
        "a.txt": {"name": "a.txt", "bytes": 5, "tag": "t7"}, "bb.txt": {"name": "bb.txt", "bytes": 6, "tag": "t7"}}
    assert all(f["state"] == "done" and f["provenance"]["job_id"] == job["job_id"] for f in files.values())
    assert data["recipe"]["processor"] == "python" and data["recipe"]["params"]["kwargs"] == {"tag": "t7"}


def test_a_run_under_another_policy_is_redone_once_by_changed_saying_why(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text("alpha\n")
    out, calls = tmp_path / "out", tmp_path / "calls.log"
    run_job(folder, out, calls)  # --overwrite skip: no stat of inputs or outputs recorded
    assert "kept no record of the input" in batchmill("why", str(folder / "a.txt")).stdout

    assert run_job(folder, out, calls, "--overwrite", "changed")["done"] == 1
    assert run_job(folder, out, calls, "--overwrite", "changed")["done"] == 0
    assert calls.read_text().split() == ["a.txt", "a.txt"]


SOME_OUTPUTS = '''
from pathlib import Path


def process(src: Path, dst: Path) -> int:
    data = src.read_bytes()
    if not src.name.startswith("none"):
        dst.write_bytes(data)
    return len(data)
'''


def journal_rows(sql: str) -> list[tuple[Any, ...]]:
    import sqlite3

    with sqlite3.connect(Path(os.environ["BATCHMILL_HOME"]) / "journal.sqlite3") as db:
        return db.execute(sql).fetchall()


def test_a_job_without_changed_logs_a_reference_per_write_and_its_records_read_as_before(tmp_path: Path) -> None:
    """The engine thread of a job without --overwrite changed writes no record per file (issue 14:
    that cost 20 % of a tiny-file job): one output_log row per journal write points at the done
    records written with it. Read back, they are the records they were: the input and its size, the
    output (none for an input the processor made none for), the result and the job."""
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.txt", "bb.txt", "none.txt"):
        (folder / name).write_text(name)
    script = tmp_path / "some_outputs.py"
    script.write_text(SOME_OUTPUTS)
    out = tmp_path / "out"
    result = batchmill("run", "python", str(folder), "--output", str(out), "--param", f"script={script}", "--json", "-q")
    assert result.returncode == 0, result.stderr
    job = json.loads(result.stdout)

    logged = [json.loads(data) for (data,) in journal_rows("SELECT data FROM output_log")]
    assert logged and all(isinstance(entry, dict) and "done_records" in entry for entry in logged), logged

    shown = batchmill("show", job["job_id"], "--json", "--files")
    assert shown.returncode == 0, shown.stderr
    files = {Path(f["input"]).name: f for f in json.loads(shown.stdout)["files"]}
    for name in ("a.txt", "bb.txt", "none.txt"):
        provenance = files[name]["provenance"]
        assert provenance["job_id"] == job["job_id"] and provenance["input_size"] == len(name), files[name]
        assert provenance["input_mtime_ns"] is None and provenance["output_size"] is None
        assert provenance["output"] == (None if name == "none.txt" else str(out / "in" / name)), provenance
    assert journal_rows("SELECT count(*) FROM output_log") == [(0,)]  # folded by the reader
    assert [row[0] for row in journal_rows("SELECT result FROM outputs ORDER BY input")] == ["5", "6", "8"]


def test_what_a_job_made_is_still_known_after_the_job_is_forgotten(tmp_path: Path) -> None:
    """Forgetting a job deletes its file records, which its output_log references point at: the
    references are read into outputs first."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text("alpha\n")
    out = tmp_path / "out"
    job = run_job(folder, out, tmp_path / "calls.log")

    forgotten = batchmill("jobs", "forget", job["job_id"])
    assert forgotten.returncode == 0, forgotten.stderr

    result = batchmill("why", str(out / "in" / "a.txt"), "--json")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)["records"][0]
    assert record["input"] == str(folder / "a.txt") and record["job_id"] == job["job_id"], record
    assert record["result"] == {"name": "a.txt", "bytes": 6, "tag": "t7"}


def test_changed_reads_what_a_job_without_it_logged_as_references(tmp_path: Path) -> None:
    """--overwrite changed reads the log unfolded (ProvenanceStore.logged): a reference to a job's
    done records is read as the records it points at, straight after the job that wrote it."""
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.txt", "b.txt"):
        (folder / name).write_text(name)
    out, calls = tmp_path / "out", tmp_path / "calls.log"
    run_job(folder, out, calls)
    assert [isinstance(json.loads(data), dict) for (data,) in journal_rows("SELECT data FROM output_log")] == [True]

    redone = run_job(folder, out, calls, "--overwrite", "changed")
    assert redone["done"] == 2, redone  # the first run kept no record of the inputs' mtimes
    assert run_job(folder, out, calls, "--overwrite", "changed")["done"] == 0
