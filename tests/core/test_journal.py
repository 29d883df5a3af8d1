"""The journal on its own: a real SQLite file in the test's BATCHMILL_HOME, read back directly too."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from batchmill.core.events import FileStatus, JobState
from batchmill.core.journal import Journal, default_home
from batchmill.core.lifecycle import Verb
from batchmill.core.spec import JobSpec, Overwrite

DEAD_PID = 4_194_305  # above the largest pid_max Linux allows: never a live process


@pytest.fixture
def journal(batchmill_home: Path) -> Iterator[Journal]:
    opened = Journal(batchmill_home)
    yield opened
    opened.close()


def make_spec(**changes: object) -> JobSpec:
    return JobSpec("checksum", ("/data/in",), "/data/out", **changes)  # type: ignore[arg-type]


def add_job(journal: Journal, job_id: str, state: JobState | None = None, spec: JobSpec | None = None,
            files: int = 0) -> JobSpec:
    spec = spec or make_spec()
    journal.create_job(job_id, spec, "checksum:sha256", b"payload-bytes", "hash-1", [True])
    if files:
        journal.add_files(job_id, [(i, 0, f"/data/in/{i}.txt", f"/data/out/in/{i}.txt", "pending", 10)
                                   for i in range(files)])
    if state is not None:
        journal.set_job_state(job_id, state)
    return spec


def direct(journal: Journal) -> sqlite3.Connection:
    """A second, independent connection: what another Batchmill process would see."""
    return sqlite3.connect(journal.path, timeout=30, isolation_level=None, check_same_thread=False)


def set_owner(journal: Journal, job_id: str, pid: int, host: str | None = None,
              heartbeat: float | None = None) -> None:
    db = direct(journal)
    db.execute("UPDATE jobs SET owner_pid = ?, owner_host = ?, heartbeat = ? WHERE id = ?",
               (pid, host or socket.gethostname(), heartbeat if heartbeat is not None else time.time(), job_id))
    db.close()


# -- the file and its schema ---------------------------------------------------------------------
def test_journal_lives_in_batchmill_home(batchmill_home: Path) -> None:
    opened = Journal()
    opened.close()
    assert default_home() == batchmill_home
    assert opened.path == batchmill_home / "journal.sqlite3"
    assert opened.path.is_file()


def test_default_home_without_the_variable_is_the_user_state_folder(monkeypatch: pytest.MonkeyPatch,
                                                                     tmp_path: Path) -> None:
    import platformdirs

    monkeypatch.delenv("BATCHMILL_HOME")
    for kind in ("DATA", "STATE", "CONFIG"):  # the user's own folders stay untouched
        monkeypatch.setenv(f"XDG_{kind}_HOME", str(tmp_path / kind.lower()))
    assert default_home() == Path(platformdirs.user_state_dir("batchmill", appauthor=False))


def test_schema_records_jobs_files_and_payloads(journal: Journal) -> None:
    db = direct(journal)
    columns = {table: {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
               for table in ("jobs", "files", "payloads")}
    db.close()
    assert {"id", "spec", "state", "processor", "identity", "payload_hash", "created", "started", "finished",
            "error", "total", "done", "failed", "skipped"} <= columns["jobs"]
    assert {"job_id", "input", "output", "state", "attempts", "error", "traceback", "duration", "size",
            "kind", "result"} <= columns["files"]
    assert {"hash", "data"} <= columns["payloads"]


def test_journal_uses_write_ahead_logging(journal: Journal) -> None:
    db = direct(journal)
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    db.close()


def test_reopening_the_journal_keeps_every_job(batchmill_home: Path) -> None:
    first = Journal(batchmill_home)
    spec = add_job(first, "aaaa00000001", JobState.HALTED, files=3)
    first.close()
    again = Journal(batchmill_home)
    try:
        job = again.get_job("aaaa00000001")
        assert job is not None and (job.spec, job.state) == (spec, JobState.HALTED)
        assert len(again.files("aaaa00000001")) == 3
    finally:
        again.close()


# -- sharing the journal ----------------------------------------------------------------------------
def test_a_reader_never_waits_for_another_processes_write(journal: Journal) -> None:
    add_job(journal, "aaaa00000001", JobState.RUNNING)
    other = direct(journal)
    # A big write with a tiny cache spills to disk before it commits: without WAL that takes the
    # exclusive lock and every reader waits (or fails); with WAL readers never notice.
    other.execute("PRAGMA cache_size = 2")
    other.execute("BEGIN IMMEDIATE")
    other.execute("UPDATE jobs SET state = 'completed'")
    other.executemany("INSERT INTO payloads (hash, data) VALUES (?, ?)",
                      [(f"h{n}", b"x" * 1000) for n in range(2000)])
    try:
        started = time.monotonic()
        job = journal.get_job("aaaa00000001")
        listed = journal.list_jobs()
        assert time.monotonic() - started < 1.0
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert job is not None and job.state is JobState.RUNNING
    assert [j.id for j in listed] == ["aaaa00000001"]


def test_a_write_waits_for_another_writer_instead_of_failing(journal: Journal) -> None:
    add_job(journal, "aaaa00000001", JobState.RUNNING, files=2)
    other = direct(journal)
    other.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.5, lambda: other.execute("COMMIT"))
    release.start()
    started = time.monotonic()
    try:
        journal.record_files("aaaa00000001", [(0, 1, 100_000, 10, None)], [], (2, 1, 0, 0), 1.0)
        waited = time.monotonic() - started
    finally:
        release.join()
        other.close()
    assert waited >= 0.4, "the write should have waited for the other writer's transaction"
    assert journal.counts("aaaa00000001")[FileStatus.DONE] == 1


def test_two_connections_writing_at_once_lose_nothing(journal: Journal, batchmill_home: Path) -> None:
    rounds = 2000
    for job_id in ("aaaa00000001", "bbbb00000001"):
        add_job(journal, job_id, JobState.RUNNING, files=rounds)
    second = Journal(batchmill_home)
    errors: list[BaseException] = []

    def hammer(target: Journal, job_id: str) -> None:
        try:
            for i in range(rounds):
                target.record_files(job_id, [(i, 1, 0, None, i)], [],
                                    (rounds, i + 1, 0, 0), 0.0)
                target.list_jobs()
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(journal, "aaaa00000001")),
               threading.Thread(target=hammer, args=(second, "bbbb00000001"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    second.close()
    assert errors == []
    for job_id in ("aaaa00000001", "bbbb00000001"):
        assert journal.counts(job_id)[FileStatus.DONE] == rounds
        job = journal.get_job(job_id)
        assert job is not None and job.done == rounds


# -- finding jobs ------------------------------------------------------------------------------------
def test_get_job_by_id_or_unique_prefix(journal: Journal) -> None:
    add_job(journal, "abc123000001")
    add_job(journal, "abd456000001")
    assert journal.get_job("abc123000001").id == "abc123000001"  # type: ignore[union-attr]
    assert journal.get_job("abc").id == "abc123000001"  # type: ignore[union-attr]
    assert journal.get_job("abd4").id == "abd456000001"  # type: ignore[union-attr]
    assert journal.get_job("ffff") is None


def test_an_ambiguous_prefix_is_an_error_that_says_so(journal: Journal) -> None:
    add_job(journal, "abc123000001")
    add_job(journal, "abd456000001")
    with pytest.raises(LookupError, match="job id 'ab' is ambiguous: it starts 2 jobs"):
        journal.get_job("ab")


def test_an_exact_id_wins_over_a_longer_id_it_starts(journal: Journal) -> None:
    add_job(journal, "abc")
    add_job(journal, "abc123000001")
    assert journal.get_job("abc").id == "abc"  # type: ignore[union-attr]


@pytest.mark.parametrize("not_a_prefix", ["a_c", "a%", "_", "%", ""])
def test_sql_wildcards_in_an_id_match_nothing(journal: Journal, not_a_prefix: str) -> None:
    add_job(journal, "abc123000001")
    assert journal.get_job(not_a_prefix) is None


def test_list_jobs_is_newest_first_and_limited(journal: Journal) -> None:
    for n in range(5):
        add_job(journal, f"job{n:09d}")
    assert [j.id for j in journal.list_jobs()] == [f"job{n:09d}" for n in reversed(range(5))]
    assert [j.id for j in journal.list_jobs(limit=2)] == ["job000000004", "job000000003"]


def test_latest_resumable_is_the_newest_job_nobody_runs(journal: Journal) -> None:
    add_job(journal, "old-halted", JobState.HALTED)
    add_job(journal, "dead-runner", JobState.RUNNING)
    set_owner(journal, "dead-runner", DEAD_PID)
    add_job(journal, "completed", JobState.COMPLETED)
    add_job(journal, "errored", JobState.ERROR)
    add_job(journal, "live-runner", JobState.RUNNING)  # owned by this (live) process
    latest = journal.latest_resumable()
    assert latest is not None and latest.id == "dead-runner"
    assert latest.shown_state is JobState.INTERRUPTED


@pytest.mark.parametrize("state", [JobState.INTERRUPTED, JobState.HALTED])
def test_stopped_jobs_of_ended_processes_are_resumable(journal: Journal, state: JobState) -> None:
    add_job(journal, "stopped", state)
    set_owner(journal, "stopped", DEAD_PID)  # the `batchmill run` that stopped it has exited
    add_job(journal, "finished", JobState.COMPLETED)
    assert journal.latest_resumable().id == "stopped"  # type: ignore[union-attr]


def test_a_newer_cancelled_job_does_not_hide_the_interrupted_ones(journal: Journal) -> None:
    # The operator cancelled the newest job on purpose; the two that a crash stopped are offered.
    for job_id in ("crashed-1", "crashed-2"):
        add_job(journal, job_id, JobState.RUNNING)
        set_owner(journal, job_id, DEAD_PID)
    add_job(journal, "cancelled", JobState.CANCELLED)
    set_owner(journal, "cancelled", DEAD_PID)
    assert journal.latest_resumable().id == "crashed-2"  # type: ignore[union-attr]
    assert [job.id for job in journal.offered_jobs()] == ["crashed-2", "crashed-1"]
    assert JobState.CANCELLED.allows(Verb.RESUME), "a cancelled job still resumes by its id"


def test_nothing_to_resume(journal: Journal) -> None:
    assert journal.latest_resumable() is None
    add_job(journal, "finished", JobState.COMPLETED)
    set_owner(journal, "finished", DEAD_PID)
    add_job(journal, "live-runner", JobState.PAUSED)
    # A job stopped in a process that is still open (a window) is left to that process.
    add_job(journal, "halted-in-live-window", JobState.HALTED)
    assert journal.latest_resumable() is None


def test_a_job_queued_in_a_live_process_is_not_resumable_elsewhere(journal: Journal) -> None:
    # A window that queued a job behind another will run it: a CLI `resume` must not take it.
    add_job(journal, "queued-here")
    job = journal.get_job("queued-here")
    assert job is not None and job.owner_alive and job.shown_state is JobState.QUEUED
    assert journal.latest_resumable() is None


def test_a_job_queued_by_a_process_that_died_shows_as_interrupted(journal: Journal) -> None:
    add_job(journal, "queued-dead")
    set_owner(journal, "queued-dead", DEAD_PID)
    job = journal.get_job("queued-dead")
    assert job is not None and job.shown_state is JobState.INTERRUPTED
    assert journal.latest_resumable().id == "queued-dead"  # type: ignore[union-attr]


def test_an_owner_on_another_host_counts_as_alive_while_its_heartbeat_is_fresh(journal: Journal) -> None:
    add_job(journal, "remote", JobState.RUNNING)
    set_owner(journal, "remote", 1, host="another-host", heartbeat=time.time())
    job = journal.get_job("remote")
    assert job is not None and job.owner_alive and job.shown_state is JobState.RUNNING
    set_owner(journal, "remote", 1, host="another-host", heartbeat=time.time() - 120)
    job = journal.get_job("remote")
    assert job is not None and not job.owner_alive and job.shown_state is JobState.INTERRUPTED


# -- a job's record -------------------------------------------------------------------------------
def test_state_changes_stamp_the_times_owner_and_error(journal: Journal) -> None:
    add_job(journal, "job1")
    created = journal.get_job("job1")
    assert created is not None and (created.state, created.started, created.finished) == (JobState.QUEUED, None,
                                                                                          None)
    journal.set_job_state("job1", JobState.RUNNING, elapsed=1.5)
    running = journal.get_job("job1")
    assert running is not None and running.started is not None and running.finished is None
    assert (running.owner_pid, running.owner_host, running.elapsed) == (os.getpid(), socket.gethostname(), 1.5)
    journal.set_job_state("job1", JobState.ERROR, error="the processor could not be loaded")
    failed = journal.get_job("job1")
    assert failed is not None and failed.finished is not None and failed.started == running.started
    assert failed.error == "the processor could not be loaded"
    journal.set_job_state("job1", JobState.RUNNING)  # resumed: started stays, finished clears
    resumed = journal.get_job("job1")
    assert resumed is not None and resumed.started == running.started and resumed.finished is None
    assert resumed.error == "the processor could not be loaded"


def test_spec_is_stored_as_json_and_read_back_equal(journal: Journal) -> None:
    spec = make_spec(params={"algorithm": "md5", "n": 3, "flag": True}, include=("*.tif",), exclude=("tmp*",),
                     recursive=False, overwrite=Overwrite.RENAME, workers=3, timeout_s=2.5, retries=2,
                     max_files_per_worker=100, halt_after="10%", name="nightly")
    add_job(journal, "job1", spec=spec)
    db = direct(journal)
    (raw,) = db.execute("SELECT spec FROM jobs WHERE id = 'job1'").fetchone()
    db.close()
    assert json.loads(raw)["overwrite"] == "rename"
    job = journal.get_job("job1")
    assert job is not None and job.spec == spec
    assert (job.name, job.processor, job.identity, job.payload_hash) == ("nightly", "checksum", "checksum:sha256",
                                                                         "hash-1")


def test_the_processor_payload_is_stored_once_per_hash(journal: Journal) -> None:
    add_job(journal, "job1")
    add_job(journal, "job2")
    assert journal.payload("hash-1") == b"payload-bytes"
    assert journal.payload("no-such-hash") is None
    db = direct(journal)
    assert db.execute("SELECT count(*) FROM payloads").fetchone() == (1,)
    db.close()


# -- files ------------------------------------------------------------------------------------------
def record_outcomes(journal: Journal, job_id: str) -> None:
    journal.add_files(job_id, [(0, 0, "/in/a", "/out/a", "pending", 1), (1, 0, "/in/b", "/out/b", "pending", 2),
                               (2, 0, "/in/c", "/out/c", "skipped", 3), (3, 0, "/in/d", "/out/d", "pending", 4)])
    journal.record_files(job_id, [(0, 1, 250_000, 11, {"lines": 3})],
                         [(1, 2, "processor-error", "processor raised ValueError: bad", "Traceback ...", 500_000, None)],
                         (4, 1, 1, 1), 3.0)


def test_counts_and_failures_per_state(journal: Journal) -> None:
    add_job(journal, "job1", JobState.RUNNING)
    record_outcomes(journal, "job1")
    assert journal.counts("job1") == {FileStatus.PENDING: 1, FileStatus.RUNNING: 0, FileStatus.DONE: 1,
                                      FileStatus.SKIPPED: 1, FileStatus.FAILED: 1}
    job = journal.get_job("job1")
    assert job is not None and (job.total, job.done, job.failed, job.skipped, job.elapsed) == (4, 1, 1, 1, 3.0)
    (failed,) = journal.files("job1", (FileStatus.FAILED,))
    assert (failed.input, failed.state, failed.attempts, failed.kind, failed.error, failed.traceback,
            failed.duration, failed.size) == ("/in/b", FileStatus.FAILED, 2, "processor-error",
                                              "processor raised ValueError: bad", "Traceback ...", 0.5, 2)
    (done,) = journal.files("job1", (FileStatus.DONE,))
    assert (done.output, done.result, done.size, done.duration) == ("/out/a", {"lines": 3}, 11, 0.25)
    assert [f.input for f in journal.files("job1")] == ["/in/a", "/in/b", "/in/c", "/in/d"]
    assert journal.counts("other-job")[FileStatus.DONE] == 0


def test_retry_resets_only_the_failed_files(journal: Journal) -> None:
    add_job(journal, "job1", JobState.COMPLETED)
    record_outcomes(journal, "job1")
    assert journal.reset_files("job1", (FileStatus.FAILED,)) == 1
    assert [(f.input, f.attempts) for f in journal.files("job1", (FileStatus.PENDING,))] == [("/in/b", 0),
                                                                                           ("/in/d", 0)]
    assert journal.counts("job1")[FileStatus.DONE] == 1


def test_deleting_a_jobs_files_leaves_other_jobs_alone(journal: Journal) -> None:
    add_job(journal, "job1", files=3)
    add_job(journal, "job2", files=2)
    journal.delete_files("job1")
    assert journal.files("job1") == []
    assert len(journal.files("job2")) == 2


@pytest.mark.parametrize("result", ["3a7bd3e2360a3d29eea436fcfb7e44c735d117c4", 'say "hi"', "back\\slash",
                                    "naïve ☃", "", {"k": [1, 2.5, None]}, [1, "two"], 42, 1.5, True, None])
def test_results_round_trip(journal: Journal, result: object) -> None:
    add_job(journal, "job1", JobState.RUNNING, files=1)
    journal.record_files("job1", [(0, 1, 0, None, result)], [], (1, 1, 0, 0), 0.0)
    assert journal.files("job1")[0].result == result


def test_a_result_json_cannot_hold_is_kept_as_its_repr(journal: Journal) -> None:
    add_job(journal, "job1", JobState.RUNNING, files=3)
    looped: list[object] = [1]
    looped.append(looped)
    journal.record_files("job1", [(0, 1, 0, None, Path("/a/b")), (1, 1, 0, None, {"when": {1, 2}}),
                                  (2, 1, 0, None, looped)], [], (3, 3, 0, 0), 0.0)
    assert [f.result for f in journal.files("job1")] == [repr(Path("/a/b")), {"when": "{1, 2}"}, "[1, [...]]"]


def test_a_later_record_of_a_file_wins(journal: Journal) -> None:
    add_job(journal, "job1", JobState.RUNNING, files=2)
    journal.record_files("job1", [], [(1, 1, "processor-error", "boom", "tb", 500_000, 7)], (2, 0, 1, 0), 1.0)
    journal.reset_files("job1", (FileStatus.FAILED,))
    assert journal.files("job1", (FileStatus.FAILED,)) == []
    assert [f.idx for f in journal.files("job1", (FileStatus.PENDING,))] == [0, 1]
    journal.record_files("job1", [(1, 1, 250_000, None, "ok")], [], (2, 1, 0, 0), 2.0)
    (again,) = journal.files("job1", (FileStatus.DONE,))
    # Nothing of the failure is left; a size the last record lacks is the one the scan recorded.
    assert (again.idx, again.attempts, again.error, again.traceback, again.duration, again.size, again.result) == (
        1, 1, None, None, 0.25, 10, "ok")


def test_the_files_view_shows_what_the_journal_says(journal: Journal) -> None:
    add_job(journal, "job1", JobState.RUNNING)
    record_outcomes(journal, "job1")
    journal.reset_files("job1", (FileStatus.FAILED,))
    db = direct(journal)
    rows = db.execute("SELECT idx, root, input, output, state, attempts, kind, error, traceback, duration, size, "
                      "result FROM files WHERE job_id = 'job1' ORDER BY idx").fetchall()
    db.close()
    expected = [(f.idx, f.root, f.input, f.output, f.state.value, f.attempts, f.kind, f.error, f.traceback,
                 f.duration, f.size, None if f.result is None else json.dumps(f.result, separators=(",", ":")))
                for f in journal.files("job1")]
    assert expected[0][9] == 0.25 and expected[0][10] == 11
    assert rows == expected
    assert [row[4] for row in rows] == ["done", "pending", "skipped", "pending"]


def test_a_journal_of_an_older_batchmill_keeps_its_files(batchmill_home: Path) -> None:
    """Older journals held a ``files`` table with a row per file; opening one moves them to the log."""
    batchmill_home.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(batchmill_home / "journal.sqlite3", isolation_level=None)
    db.executescript("""
        CREATE TABLE files (job_id TEXT NOT NULL, idx INTEGER NOT NULL, root INTEGER NOT NULL, input TEXT NOT NULL,
            output TEXT, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, kind TEXT, error TEXT,
            traceback TEXT, duration REAL, size INTEGER, result TEXT, PRIMARY KEY (job_id, idx)) WITHOUT ROWID;
        INSERT INTO files VALUES ('old', 0, 0, '/in/a', NULL, 'done', 1, NULL, NULL, NULL, 0.5, 3, '"abc"');
        INSERT INTO files VALUES ('old', 1, 0, '/in/b', NULL, 'failed', 2, 'input-error', 'gone', 'tb', 0.1, NULL, NULL);
        INSERT INTO files VALUES ('old', 2, 0, '/in/c', NULL, 'pending', 0, NULL, NULL, NULL, NULL, NULL, NULL);
        INSERT INTO files VALUES ('old', 4, 0, '/in/e', NULL, 'done', 1, NULL, NULL, NULL, NULL, NULL, NULL);
        INSERT INTO files VALUES ('old', 3, 0, '/in/d', NULL, 'skipped', 0, NULL, NULL, NULL, NULL, NULL, NULL);
    """)
    db.close()
    journal = Journal(batchmill_home)
    try:
        records = journal.files("old")
        assert [(f.input, f.state, f.attempts, f.result, f.size) for f in records] == [
            ("/in/a", FileStatus.DONE, 1, "abc", 3), ("/in/b", FileStatus.FAILED, 2, None, None),
            ("/in/c", FileStatus.PENDING, 0, None, None), ("/in/d", FileStatus.SKIPPED, 0, None, None),
            ("/in/e", FileStatus.DONE, 1, None, None)]
        assert (records[1].kind, records[1].error, records[1].traceback) == ("input-error", "gone", "tb")
        assert [f.duration for f in records] == [0.5, 0.1, None, None, None]
    finally:
        journal.close()
    again = Journal(batchmill_home)  # moved once: a second opening finds the log and the view
    try:
        assert len(again.files("old")) == 5
    finally:
        again.close()


# -- JobSpec as JSON ----------------------------------------------------------------------------------
def test_jobspec_json_round_trip_keeps_every_field() -> None:
    spec = make_spec(params={"algorithm": "sha1"}, include=("*.a", "*.b"), exclude=("x",), recursive=False,
                     overwrite=Overwrite.REPLACE, workers=7, timeout_s=1.0, retries=1, max_files_per_worker=9,
                     halt_after="3", name="named")
    text = spec.to_json()
    assert isinstance(json.loads(text), dict)
    again = JobSpec.from_json(text)
    assert again == spec
    assert isinstance(again.inputs, tuple) and isinstance(again.include, tuple)
    assert again.overwrite is Overwrite.REPLACE


def test_jobspec_from_json_ignores_unknown_fields_and_fills_defaults() -> None:
    text = json.dumps({"processor": "checksum", "inputs": ["/a"], "output": "/o", "from_a_newer_version": 1})
    spec = JobSpec.from_json(text)
    assert (spec.processor, spec.inputs, spec.output, spec.overwrite, spec.retries) == (
        "checksum", ("/a",), "/o", Overwrite.SKIP, 0)


def test_jobspec_paths_are_made_absolute(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    spec = JobSpec("checksum", ("in",), "out")
    assert spec.inputs == (str(tmp_path / "in"),) and spec.output == str(tmp_path / "out")
    assert JobSpec.from_json(spec.to_json()) == spec
