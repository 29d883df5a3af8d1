"""A journal written by Batchmill 0.1 (top-level ``core``/``gui`` packages; payloads pickled by
reference to ``core.…``) resumes and retries after the rename to one ``batchmill`` package.

The journal is the committed fixture tests/fixtures/legacy_journal.sqlite3, made by
tests/fixtures/make_legacy_journal.py; its inputs are made again here by that script's own
function, in this test's folder, and the journal's paths are moved there.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from batchmill.core.events import FileStatus
from batchmill.core.journal import Journal

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
FIXTURE_ROOT = "/tmp/bmfixture-root"
KILLED, WITH_FAILURES, STOPPED_HASHING = "6f92c5f2b802", "5202ed4e3429", "ae925cffcb4e"
RUN_TIMEOUT_S = 120


def fixture_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_legacy_journal", FIXTURES / "make_legacy_journal.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def legacy(tmp_path: Path, batchmill_home: Path) -> Path:
    """The fixture's inputs made again under tmp_path/root, and its journal moved there."""
    root = tmp_path / "root"
    maker = fixture_script()
    maker.ROOT = root
    maker.make_inputs()
    batchmill_home.mkdir(parents=True, exist_ok=True)
    journal = batchmill_home / "journal.sqlite3"
    shutil.copy(FIXTURES / "legacy_journal.sqlite3", journal)
    db = sqlite3.connect(journal)
    with db:
        db.execute("UPDATE jobs SET spec = replace(spec, ?, ?), identity = replace(identity, ?, ?)",
                   (FIXTURE_ROOT, str(root)) * 2)
        db.execute("UPDATE file_records SET data = replace(data, ?, ?)", (FIXTURE_ROOT, str(root)))
        # The processes that ran these jobs are long gone, on the machine that made the fixture.
        db.execute("UPDATE jobs SET owner_host = 'the machine that made the fixture', heartbeat = 0")
    db.close()
    return root


def batchmill(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "batchmill", *args], cwd=cwd, env=os.environ,
                          capture_output=True, text=True, timeout=RUN_TIMEOUT_S)


def inputs_of(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root / "in")): p.read_text() for p in sorted((root / "in").rglob("*.txt"))}


def outputs_of(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_fixture_really_refers_to_the_old_packages(tmp_path: Path) -> None:
    """Without translation its payloads cannot even be loaded now: what the tests below show is real.
    (Loaded in a fresh interpreter outside the repository, whose folder ``core`` the test
    process itself could import as a top-level package.)"""
    db = sqlite3.connect(FIXTURES / "legacy_journal.sqlite3")
    columns = {row[1] for row in db.execute("PRAGMA table_info(jobs)")}
    db.close()
    assert "created_by" not in columns
    probe = ("import pickle, sqlite3, sys\n"
             "for (data,) in sqlite3.connect(sys.argv[1]).execute('SELECT data FROM payloads'):\n"
             "    try:\n"
             "        pickle.loads(data)\n"
             "    except ModuleNotFoundError as exc:\n"
             "        print(exc)\n")
    loaded = subprocess.run([sys.executable, "-c", probe, str(FIXTURES / "legacy_journal.sqlite3")],
                            cwd=tmp_path, capture_output=True, text=True, check=True)
    assert loaded.stdout.splitlines() == ["No module named 'core'"] * 3


def test_a_killed_legacy_job_resumes(legacy: Path, tmp_path: Path, batchmill_home: Path) -> None:
    """The files it had done stay done (their outputs were the fixture run's, not kept); every
    other file is made now, by the journaled function with the journaled delay."""
    journal = Journal(batchmill_home)
    done_before = {Path(f.input).name for f in journal.files(KILLED, (FileStatus.DONE,))}
    journal.close()
    assert 0 < len(done_before) < 30

    result = batchmill("resume", KILLED, "--json", "-q", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["state"], report["total"], report["done"], report["failed"]) == ("completed", 30, 30, 0)
    expected = {name: text.upper() for name, text in inputs_of(legacy).items() if Path(name).name not in done_before}
    assert outputs_of(legacy / "out-killed" / "in") == expected
    assert "Traceback" not in result.stderr


def test_a_legacy_job_with_failures_retries(legacy: Path, tmp_path: Path) -> None:
    """Its three ``bad*`` files failed while the fixture's flag file existed; it does not now."""
    assert not Path(FIXTURE_ROOT, "fail-flag").exists()
    expected = {name: text.upper() for name, text in inputs_of(legacy).items()}
    assert len(outputs_of(legacy / "out-failed" / "in")) == 0  # the fixture's outputs were not kept

    result = batchmill("retry", WITH_FAILURES, "--json", "-q", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["state"], report["done"], report["failed"], report["failures"]) == ("completed", 30, 0, [])
    retried = outputs_of(legacy / "out-failed" / "in")
    assert retried == {name: text for name, text in expected.items() if Path(name).name.startswith("bad")}


@pytest.mark.slow  # hashes the fixture's 2 GiB sparse file
def test_a_legacy_checksum_job_resumes_and_its_manifest_verifies(legacy: Path, tmp_path: Path) -> None:
    result = batchmill("resume", STOPPED_HASHING, "--json", "-q", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["done"] == 6
    manifest = legacy / "out-sums" / "sums" / "SHA256SUMS"
    check = subprocess.run(["sha256sum", "-c", str(manifest)], cwd=legacy / "sums", capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert len(check.stdout.splitlines()) == 6


def test_legacy_jobs_are_listed_and_stay_marked_as_legacy(legacy: Path, tmp_path: Path) -> None:
    listed = batchmill("jobs", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert {job["job_id"] for job in json.loads(listed.stdout)} == {KILLED, WITH_FAILURES, STOPPED_HASHING}
    assert batchmill("retry", WITH_FAILURES, "-q", cwd=tmp_path).returncode == 0
    db = sqlite3.connect(legacy.parent / "batchmill-home" / "journal.sqlite3")
    created_by = dict(db.execute("SELECT id, created_by FROM jobs").fetchall())
    db.close()
    assert created_by == {KILLED: None, WITH_FAILURES: None, STOPPED_HASHING: None}
