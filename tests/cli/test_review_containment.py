"""A hostile review of issue 12 on main: reproductions that still broke a promise, each run
against the real ``batchmill`` CLI (real processes, real files, real SQLite).

Damage that puts bytes which are not UTF-8 where SQLite keeps text (a schema, an error
message, a row) made Python's sqlite3 raise ``UnicodeDecodeError`` instead of an
``sqlite3.Error``: ``jobs``, ``run``, ``resume``, ``show``, ``retry`` and even ``journal
check`` ended with a traceback and exit 1 (seen with 40 random bytes over a real journal, 3
seeds of 12)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(180)

EXIT_USAGE = 2


def batchmill(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "batchmill.gui.launcher", *args], capture_output=True, text=True,
                          timeout=120)


def journal_with_a_job(tmp_path: Path, home: Path) -> tuple[Path, str]:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "a.txt").write_text("a\n")
    done = batchmill("run", "checksum", str(inputs), "--output", str(tmp_path / "out"), "--json")
    assert done.returncode == 0, done.stderr
    job_id = done.stdout.split('"job_id": "')[1].split('"')[0]
    return home / "journal.sqlite3", job_id


def not_utf8_in_the_schema(path: Path) -> None:
    """The jobs table's CREATE statement with a byte that is not UTF-8 (as a flipped byte makes)."""
    db = sqlite3.connect(path)
    sql = db.execute("SELECT sql FROM sqlite_master WHERE name = 'jobs'").fetchone()[0]
    damaged = sql.encode().replace(b"(", b" \xec(", 1)  # a syntax error whose message quotes the byte
    db.execute("PRAGMA writable_schema = ON")
    db.execute("UPDATE sqlite_master SET sql = CAST(? AS TEXT) WHERE name = 'jobs'", (damaged,))
    db.commit()
    db.close()


def not_utf8_in_a_row(path: Path) -> None:
    """A job's name whose bytes are not UTF-8, stored as TEXT (SQLite does not check)."""
    db = sqlite3.connect(path)
    db.execute("UPDATE jobs SET name = CAST(X'6a6f62ff' AS TEXT)")
    db.commit()
    db.close()


def assert_named(result: subprocess.CompletedProcess[str], path: Path) -> None:
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    assert result.returncode == EXIT_USAGE, (result.returncode, result.stdout, result.stderr)
    assert f"the journal {path} is damaged" in result.stderr, result.stderr
    assert "batchmill journal recover" in result.stderr, result.stderr


@pytest.mark.parametrize("command", ["jobs", "show", "resume", "retry", "run"])
def test_a_schema_that_is_not_utf8_is_a_damaged_journal(tmp_path: Path, batchmill_home: Path, command: str) -> None:
    path, job_id = journal_with_a_job(tmp_path, batchmill_home)
    not_utf8_in_the_schema(path)
    kept = path.read_bytes()
    words = {"jobs": ["jobs"], "show": ["show", job_id], "resume": ["resume", job_id], "retry": ["retry", job_id],
             "run": ["run", "checksum", str(tmp_path / "inputs"), "--output", str(tmp_path / "out2")]}[command]

    result = batchmill(*words)

    assert_named(result, path)
    assert path.read_bytes() == kept  # never replaced


@pytest.mark.parametrize("command", ["jobs", "show"])
def test_a_row_that_is_not_utf8_is_a_damaged_journal(tmp_path: Path, batchmill_home: Path, command: str) -> None:
    path, job_id = journal_with_a_job(tmp_path, batchmill_home)
    not_utf8_in_a_row(path)

    result = batchmill(*(["jobs"] if command == "jobs" else ["show", job_id]))

    assert_named(result, path)


def test_journal_check_and_recover_name_a_schema_that_is_not_utf8(tmp_path: Path, batchmill_home: Path) -> None:
    path, job_id = journal_with_a_job(tmp_path, batchmill_home)
    not_utf8_in_the_schema(path)

    check = batchmill("journal", "check")

    assert "Traceback" not in check.stderr + check.stdout, check.stderr
    assert check.returncode != 0, check.stdout
    assert "malformed database schema" in check.stdout + check.stderr, (check.stdout, check.stderr)

    recover = batchmill("journal", "recover")

    assert "Traceback" not in recover.stderr + recover.stdout, recover.stderr
    assert recover.returncode == 0, (recover.stdout, recover.stderr)
    assert list(batchmill_home.glob("journal.sqlite3.damaged-*")), list(batchmill_home.iterdir())
    listed = batchmill("jobs")
    assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr


def test_a_manifest_that_cannot_be_written_loses_no_other_folder_s_manifest(tmp_path: Path) -> None:
    """Two dropped folders; the first one's manifest cannot be written (a folder stands where it
    goes): the second one's is written all the same, and the job's error names the manifest
    and why in plain words, not an errno tuple of temporary names."""
    first, second = tmp_path / "first", tmp_path / "second"
    for folder in (first, second):
        folder.mkdir()
        (folder / "a.txt").write_text(f"{folder.name}\n")
    out = tmp_path / "out"
    (out / "first" / "SHA256SUMS").mkdir(parents=True)

    result = batchmill("run", "checksum", str(first), str(second), "--output", str(out), "--overwrite", "replace")

    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == EXIT_USAGE, (result.returncode, result.stderr)
    assert (out / "second" / "SHA256SUMS").read_text().endswith("  a.txt\n")
    assert f"cannot write the manifest {out / 'first' / 'SHA256SUMS'}: Is a directory" in result.stderr, result.stderr
    assert ".bmpart" not in result.stderr, result.stderr
    assert sorted(p.name for p in (out / "first").iterdir()) == ["SHA256SUMS"]  # no temporary left


def test_a_full_journal_s_advice_names_a_command_that_works(tmp_path: Path) -> None:
    """The full-disk message said "free some space, then `batchmill resume`", but the job it
    stopped is recorded as error, which the lifecycle table did not let `resume` take. Now an
    error job is resumable by its id, and the advice says so."""
    from batchmill.core.journal_trouble import explain

    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorcode = 13  # type: ignore[attr-defined]
    message = str(explain(full, tmp_path / "journal.sqlite3", 5.0))

    assert f"the journal {tmp_path / 'journal.sqlite3'} cannot be written: the disk is full" in message
    assert "batchmill resume JOB_ID" in message, message


FAIL_WHILE_FLAGGED = '''
from pathlib import Path

def process(src, dst):
    if (src.parent.parent / "flag").exists():
        raise RuntimeError("flagged")
    dst.write_text(src.read_text().upper())
'''


def test_a_job_the_engine_stopped_resumes_by_its_id(
        tmp_path: Path, batchmill_home: Path) -> None:
    """An error job (the journal or the engine stopped it: a full disk) is resumable by its id once
    the cause is fixed, as the lifecycle table now says; resuming it again once it has completed
    is a harmless no-op, so a script may always "resume after a kill"."""
    from batchmill.core.journal import Journal
    from batchmill.core.lifecycle import JobState

    inputs = tmp_path / "in"
    inputs.mkdir()
    for i in range(12):
        (inputs / f"{i:02d}.txt").write_text(f"file {i}\n")
    script = tmp_path / "flagged.py"
    script.write_text(FAIL_WHILE_FLAGGED)
    (tmp_path / "flag").touch()
    first = batchmill("run", "python", str(inputs), "--output", str(tmp_path / "out"), "--param",
                      f"script={script}", "--workers", "1", "--halt-after", "1", "--json")
    job_id = json.loads(first.stdout)["job_id"]
    report = json.loads(first.stdout)
    assert report["state"] == "halted" and report["done"] + report["failed"] < 12, first.stderr
    (tmp_path / "flag").unlink()
    journal = Journal(batchmill_home)
    journal.set_job_state(job_id, JobState.ERROR, error="the journal ... cannot be written: the disk is full")
    journal.close()

    resumed = batchmill("resume", job_id, "--json")

    assert "Traceback" not in resumed.stderr, resumed.stderr
    report = json.loads(resumed.stdout)
    assert report["state"] == "completed", resumed.stderr
    assert report["done"] + report["failed"] == 12 and report["failed"] >= 1, report
    assert (tmp_path / "out" / "in" / "11.txt").read_text() == "FILE 11\n"

    again = batchmill("resume", job_id, "--json")  # idempotent: a script's "resume after a kill" may find it done

    assert "Traceback" not in again.stderr, again.stderr
    report = json.loads(again.stdout)
    assert report["state"] == "completed" and report["done"] + report["failed"] == 12, report


HUGE_INT_SCRIPT = '''
def process(src, dst):
    dst.write_text("made")
    if src.stem == "huge":
        return 10 ** 100000  # str() of it raises ValueError: past the 4,300-digit limit
    if src.stem == "nested":
        return {"n": 10 ** 100000}
    return len(src.name)
'''


def test_an_int_too_long_to_write_fails_its_own_file(tmp_path: Path) -> None:
    """A processor returning 10**100000 ended the whole job: the worker let every int through
    as JSON-ready, and the journal's json.dumps (then repr) of it raised ValueError in the
    engine: 'unexpected engine error: ValueError: Exceeds the limit (4300 digits) for integer
    string conversion', exit 2, and the files done before it recorded as pending."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name in ("a", "huge", "nested", "z"):
        (inputs / f"{name}.txt").write_text(name)
    script = tmp_path / "huge.py"
    script.write_text(HUGE_INT_SCRIPT)

    result = batchmill("run", "python", str(inputs), "--output", str(tmp_path / "out"), "--param",
                       f"script={script}", "--json", "--workers", "1")

    assert "Traceback" not in result.stderr, result.stderr
    summary = json.loads(result.stdout)
    assert result.returncode == 1, (result.returncode, summary)
    assert (summary["state"], summary["done"], summary["failed"]) == ("completed", 2, 2), summary
    failures = {Path(f["input"]).name: f for f in summary["failures"]}
    assert set(failures) == {"huge.txt", "nested.txt"}, failures
    assert all(f["kind"] == "unrecordable-result" for f in failures.values()), failures
    assert all("cannot be recorded" in f["error"] for f in failures.values()), failures
    assert sorted(p.name for p in (tmp_path / "out" / "in").iterdir()) == ["a.txt", "z.txt"]
    shown = json.loads(batchmill("show", "--files", "--json", summary["job_id"]).stdout)
    states = {Path(f["input"]).name: (f["state"], f["result"]) for f in shown["files"]}
    assert states["a.txt"] == ("done", 5) and states["z.txt"] == ("done", 5), states


def test_the_journal_keeps_a_record_whose_result_even_repr_cannot_write() -> None:
    """Behind the worker's check (a processor may raise the worker's digit limit, which the
    engine's json.dumps does not share): the journal's last resort, repr(), raised too."""
    from batchmill.core.journal import _json_safe

    record = [3, 1, 250, 4, {"n": 10 ** 5000}]

    safe = _json_safe(record)

    assert safe[:4] == [3, 1, 250, 4]
    assert "cannot be written as text" in json.loads(json.dumps(safe))[-1]


NAN_SCRIPT = '''
def process(src, dst):
    if src.stem == "nan":
        return float("nan")
    if src.stem == "nested":
        return {"x": float("inf"), "l": [1.5, float("-inf")], float("nan"): 2}
    return 0.5
'''


def strict_json(text: str) -> object:
    def refuse(constant: str) -> object:
        raise ValueError(f"not JSON: {constant}")
    return json.loads(text, parse_constant=refuse)


def test_results_that_are_not_finite_numbers_come_back_as_json(tmp_path: Path) -> None:
    """A processor returning float('nan') or a dict holding inf made ``show --files --json``
    print NaN and Infinity, which JSON does not have (jq: 'Invalid numeric literal')."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name in ("nan", "nested", "plain"):
        (inputs / f"{name}.txt").write_text(name)
    script = tmp_path / "nan.py"
    script.write_text(NAN_SCRIPT)
    run = batchmill("run", "python", str(inputs), "--output", str(tmp_path / "out"), "--param", f"script={script}",
                    "--json")
    assert run.returncode == 0, run.stderr
    job_id = json.loads(run.stdout)["job_id"]

    shown = strict_json(batchmill("show", "--files", "--json", job_id).stdout)

    results = {Path(f["input"]).name: f["result"] for f in shown["files"]}  # type: ignore[index]
    assert results == {"nan.txt": "nan", "nested.txt": {"x": "inf", "l": [1.5, "-inf"], "nan": 2},
                       "plain.txt": 0.5}, results


CLAIM_AND_WAIT = '''
import sys, time
from batchmill.core.journal import Journal
Journal().claim(sys.argv[1])
print("claimed", flush=True)
time.sleep(60)
'''


def test_a_job_another_live_process_has_claimed_is_not_resumed_twice(tmp_path: Path) -> None:
    """Two `batchmill resume JOB` started together both ran the job (2 of 4 tries), two engines
    on the same files and the same temporary names: each checked that no live process runs the
    job, then claimed it, and the first claim leaves the job in its final state (interrupted)
    until its engine starts it, so the second saw nobody running it. Here the first one claims
    and stays between its claim and its start; the second must be refused."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "a.txt").write_text("a")
    run = batchmill("run", "checksum", str(inputs), "--output", str(tmp_path / "out"), "--json")
    job_id = json.loads(run.stdout)["job_id"]
    holder = subprocess.Popen([sys.executable, "-c", CLAIM_AND_WAIT, job_id], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "claimed"

        second = batchmill("resume", job_id)

        assert "Traceback" not in second.stderr, second.stderr
        assert second.returncode == EXIT_USAGE, (second.returncode, second.stderr)
        assert f"job {job_id} is being run by process {holder.pid}" in second.stderr, second.stderr
    finally:
        holder.kill()
        holder.wait()
    after = batchmill("resume", job_id)  # the claimer is gone: the job is free again
    assert after.returncode == 0, after.stderr


def test_claims_of_one_job_from_two_journals_at_once_let_one_win(tmp_path: Path) -> None:
    """The check and the claim are one write: of two claims each made after reading the job,
    the second is refused."""
    from batchmill.core.journal import ClaimedElsewhere, Journal

    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "a.txt").write_text("a")
    job_id = json.loads(batchmill("run", "checksum", str(inputs), "--output", str(tmp_path / "o"),
                                  "--json").stdout)["job_id"]
    holder = subprocess.Popen([sys.executable, "-c", CLAIM_AND_WAIT, job_id], stdout=subprocess.PIPE, text=True)
    journal = Journal()
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "claimed"
        with pytest.raises(ClaimedElsewhere) as raised:
            journal.claim(job_id)
        assert raised.value.pid == holder.pid
    finally:
        journal.close()
        holder.kill()
        holder.wait()
