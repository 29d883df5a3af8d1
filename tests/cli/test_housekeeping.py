"""Journal housekeeping: ``batchmill jobs forget JOB…`` and ``jobs prune --older-than AGE
[--keep-failed]`` delete old jobs and VACUUM, so the journal shrinks on disk, while another
Batchmill runs a job on the same journal (that job completes as if nothing happened)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from batchmill.core.events import JobState
from batchmill.core.journal import Journal
from batchmill.core.spec import JobSpec

pytestmark = pytest.mark.timeout(180)
SLOW_COPY = Path(__file__).parent / "scripts" / "journal_slow_copy.py"
OLD_FILES = 20_000
DAY_S = 86_400.0


def batchmill(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "batchmill.gui.launcher", *args], capture_output=True, text=True,
                          timeout=120)


def add_old_job(journal: Journal, tmp_path: Path, job_id: str, days_ago: float, failed: int = 0) -> None:
    """A finished job of OLD_FILES files, as a run of long ago left it in the journal."""
    spec = JobSpec(processor="checksum", inputs=(str(tmp_path / "survey"),), output=str(tmp_path / "manifests"))
    journal.create_job(job_id, spec, "checksum", None, None, [True])
    base = str(tmp_path / "survey" / "a fairly usual folder" / "of survey tiles")
    journal.add_files(job_id, [(i, 0, f"{base}/tile_{i:06d}.tif", None, "pending", -1) for i in range(OLD_FILES)])
    done = [(i, 1, 4_000 + i % 100, 4096, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
            for i in range(failed, OLD_FILES)]
    bad = [(i, 1, "raised", "OSError: bad tile", "Traceback ...", 900, 4096) for i in range(failed)]
    journal.record_files(job_id, done, bad, (OLD_FILES, OLD_FILES - failed, failed, 0), 12.0)
    journal.set_job_state(job_id, JobState.COMPLETED)
    when = time.time() - days_ago * DAY_S
    with journal._write() as db:
        db.execute("UPDATE jobs SET created = ?, started = ?, finished = ? WHERE id = ?", (when, when, when, job_id))


def journal_bytes(home: Path) -> int:
    return sum(p.stat().st_size for p in home.glob("journal.sqlite3*") if p.name.endswith(("sqlite3", "-wal")))


def test_prune_shrinks_the_journal_while_another_process_runs_a_job(tmp_path: Path, batchmill_home: Path) -> None:
    journal = Journal(batchmill_home)
    for n, days in enumerate((40, 45, 60)):
        add_old_job(journal, tmp_path, f"old{n}", days)
    add_old_job(journal, tmp_path, "oldfailed", 50, failed=3)
    add_old_job(journal, tmp_path, "recent", 2)
    journal.close()
    inputs = tmp_path / "live"
    inputs.mkdir()
    for n in range(120):
        (inputs / f"f{n:03d}.txt").write_bytes(b"%d\n" % n)
    runner = subprocess.Popen([sys.executable, "-m", "batchmill.gui.launcher", "run", "python", str(inputs),
                               "--output", str(tmp_path / "out"), "--workers", "2", "--param", f"script={SLOW_COPY}",
                               "--param", "delay=0.02", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=os.environ)
    try:
        deadline = time.monotonic() + 60
        while not any(j.get("processor") == "python" for j in json.loads(batchmill("jobs", "--json").stdout)):
            assert time.monotonic() < deadline, "the job never reached the journal"
            time.sleep(0.1)
        before = journal_bytes(batchmill_home)

        pruned = batchmill("jobs", "prune", "--older-than", "30d", "--keep-failed", "--json")

        after = journal_bytes(batchmill_home)
        assert runner.poll() is None, "the job had finished before the prune: nothing was shown"
        stdout, stderr = runner.communicate(timeout=120)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.communicate()
    assert pruned.returncode == 0, pruned.stderr
    report = json.loads(pruned.stdout)
    assert sorted(report["forgotten"]) == ["old0", "old1", "old2"]
    print(f"\njournal before prune {before:,} B, after {after:,} B ({after / before:.2f}x); "
          f"the prune's own count: {report['bytes_before']:,} -> {report['bytes_after']:,} B")
    assert after < before * 0.6, (before, after)
    assert runner.returncode == 0, stderr
    live = json.loads(stdout)
    assert (live["state"], live["done"], live["failed"]) == ("completed", 120, 0)
    left = {j["job_id"]: j for j in json.loads(batchmill("jobs", "--json").stdout)}
    assert set(left) == {"oldfailed", "recent", live["job_id"]}
    assert left[live["job_id"]]["done"] == 120
    assert len(list((tmp_path / "out" / "live").iterdir())) == 120


def test_forget_names_jobs_refuses_a_running_one_and_keeps_outputs(tmp_path: Path, batchmill_home: Path) -> None:
    journal = Journal(batchmill_home)
    add_old_job(journal, tmp_path, "aaa111", 1)
    add_old_job(journal, tmp_path, "bbb222", 1)
    add_old_job(journal, tmp_path, "ccc333", 1)
    journal.set_job_state("ccc333", JobState.RUNNING)  # owned by this live process
    journal.close()

    done = batchmill("jobs", "forget", "aaa", "ccc333")

    assert done.returncode == 1
    assert "refused ccc333: it is running (process" in done.stdout and "cancel it first" in done.stdout
    assert "forgot 1 job;" in done.stdout
    left = [j["job_id"] for j in json.loads(batchmill("jobs", "--json").stdout)]
    assert sorted(left) == ["bbb222", "ccc333"]
    assert batchmill("show", "aaa111").returncode == 2
    unknown = batchmill("jobs", "forget", "zzz", "--json")
    assert unknown.returncode == 2 and json.loads(unknown.stdout)["error"].startswith("no job 'zzz'")


def test_prune_dry_run_and_a_bad_age(tmp_path: Path, batchmill_home: Path) -> None:
    journal = Journal(batchmill_home)
    add_old_job(journal, tmp_path, "old", 10)
    journal.close()
    dry = batchmill("jobs", "prune", "--older-than", "1w", "--dry-run")
    assert dry.returncode == 0 and dry.stdout.startswith("would forget old ")
    assert [j["job_id"] for j in json.loads(batchmill("jobs", "--json").stdout)] == ["old"]
    bad = batchmill("jobs", "prune", "--older-than", "soon", "--json")
    assert bad.returncode == 2
    assert "--older-than takes an age such as 30d" in json.loads(bad.stdout)["error"]
