"""``--provenance sidecar``: a small JSON beside each output, ``<output>.provenance.json``, saying
what made it; written atomically after the output, never taken for an input, shown by the dry run."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from batchmill.core import __version__
from batchmill.core.outputs import is_tmp_name
from batchmill.core.sidecar import SCHEMA_VERSION, sidecar_tmp

pytestmark = pytest.mark.timeout(180)

SCRIPTS = Path(__file__).resolve().parent / "scripts"
RECORDER = SCRIPTS / "record_calls.py"
SLOW = SCRIPTS / "journal_slow_copy.py"


def batchmill(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "batchmill.gui.launcher", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


def make_inputs(folder: Path, names: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in names.items():
        (folder / name).write_text(text)


def run_recorder(inputs: Path, out: Path, calls: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return batchmill("run", "python", str(inputs), "--output", str(out), "--param", f"script={RECORDER}",
                     "--param", "tag=t7", "--json", "-q", "--workers", "2", *extra,
                     env={"RECORD_CALLS": str(calls)})


def sidecar_of(output: Path) -> dict[str, Any]:
    data = json.loads(output.with_name(output.name + ".provenance.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_a_sidecar_beside_each_output_says_what_made_it(tmp_path: Path) -> None:
    make_inputs(tmp_path / "in", {"a.txt": "alpha\n", "b.txt": "beta beta\n"})
    out = tmp_path / "out"
    before = time.time()

    result = run_recorder(tmp_path / "in", out, tmp_path / "calls.log", "--provenance", "sidecar")

    assert result.returncode == 0, result.stderr
    job = json.loads(result.stdout)
    assert sorted(p.name for p in (out / "in").iterdir()) == [
        "a.txt", "a.txt.provenance.json", "b.txt", "b.txt.provenance.json"]
    side = sidecar_of(out / "in" / "a.txt")
    src = tmp_path / "in" / "a.txt"
    assert side["schema"] == "batchmill.provenance" and side["schema_version"] == SCHEMA_VERSION
    assert side["input"] == {"path": str(src), "size": 6, "mtime_ns": src.stat().st_mtime_ns}
    made = out / "in" / "a.txt"
    assert side["output"] == {"path": str(made), "size": made.stat().st_size, "mtime_ns": made.stat().st_mtime_ns}
    processor = side["processor"]
    assert processor["name"] == "python" and processor["version"] == "1"
    assert processor["params"]["kwargs"] == {"tag": "t7"} and processor["params"]["script"] == str(RECORDER)
    assert processor["code"].startswith("script:") and len(processor["payload_hash"]) == 64
    assert side["batchmill"] == {"version": __version__, "host": socket.gethostname(), "job_id": job["job_id"]}
    assert before <= side["made"] <= time.time() and side["made_utc"].endswith("Z")
    # the journal's record (batchmill why) says the same
    why = json.loads(batchmill("why", str(made), "--json").stdout)["records"][0]
    assert why["payload_hash"] == processor["payload_hash"] and why["input_size"] == 6
    of_sidecar = batchmill("why", str(made) + ".provenance.json")
    assert of_sidecar.returncode == 0, of_sidecar.stderr
    assert of_sidecar.stdout.startswith(f"{made}.provenance.json is the provenance sidecar of {made}\n")
    assert f"payload hash {processor['payload_hash']}" in of_sidecar.stdout


def test_off_by_default_and_the_hashes_with_hash_inputs(tmp_path: Path) -> None:
    make_inputs(tmp_path / "in", {"a.txt": "alpha\n"})
    assert run_recorder(tmp_path / "in", tmp_path / "plain", tmp_path / "c.log").returncode == 0
    assert [p.name for p in (tmp_path / "plain" / "in").iterdir()] == ["a.txt"]

    result = run_recorder(tmp_path / "in", tmp_path / "hashed", tmp_path / "c.log", "--provenance", "sidecar",
                          "--hash-inputs")

    assert result.returncode == 0, result.stderr
    import hashlib

    side = sidecar_of(tmp_path / "hashed" / "in" / "a.txt")
    assert side["input"]["sha256"] == hashlib.sha256(b"alpha\n").hexdigest()
    assert side["output"]["sha256"] == hashlib.sha256((tmp_path / "hashed" / "in" / "a.txt").read_bytes()).hexdigest()


def test_the_scan_never_takes_a_sidecar_for_an_input(tmp_path: Path) -> None:
    make_inputs(tmp_path / "in", {"a.txt": "alpha\n", "b.txt": "beta\n"})
    out = tmp_path / "out"
    calls = tmp_path / "calls.log"
    assert run_recorder(tmp_path / "in", out, calls, "--provenance", "sidecar",
                        "--overwrite", "changed").returncode == 0

    # the output folder used as an input: its outputs are, their sidecars are not
    again = run_recorder(out / "in", tmp_path / "out2", calls, "--provenance", "sidecar")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["total"] == 2
    assert sorted(p.name for p in (tmp_path / "out2" / "in").iterdir()) == [
        "a.txt", "a.txt.provenance.json", "b.txt", "b.txt.provenance.json"]
    # --overwrite changed, nothing changed: every file up to date, no sidecar planned as a file
    calls.write_text("")
    same = run_recorder(tmp_path / "in", out, calls, "--provenance", "sidecar", "--overwrite", "changed")
    assert same.returncode == 0, same.stderr
    assert (json.loads(same.stdout)["total"], json.loads(same.stdout)["skipped"]) == (2, 2)
    assert calls.read_text() == ""
    # a plain preview of the output folder does not list them either
    dry = batchmill("run", "python", str(out / "in"), "--output", str(tmp_path / "o3"),
                    "--param", f"script={RECORDER}", "--dry-run", "--json")
    inputs = [json.loads(line)["input"] for line in dry.stdout.splitlines()
              if json.loads(line)["type"] == "file"]
    assert sorted(Path(i).name for i in inputs) == ["a.txt", "b.txt"]


def test_a_users_own_file_named_like_a_sidecar_is_an_input_not_lost(tmp_path: Path) -> None:
    """Only the sidecars Batchmill wrote are left out of the scan: a file of the user's that happens
    to be named *.provenance.json is an input like any other (before, it vanished from the job
    without a word, even with sidecars off: a checksum manifest silently without it)."""
    make_inputs(tmp_path / "in", {"a.txt": "alpha\n", "notes.provenance.json": '{"mine": 1}\n'})
    (tmp_path / "in" / "sub").mkdir()
    (tmp_path / "in" / "sub" / "x.provenance.json").write_text("")  # empty: not a sidecar either

    sums = batchmill("run", "checksum", str(tmp_path / "in"), "--output", str(tmp_path / "sums"), "--json", "-q")

    assert sums.returncode == 0, sums.stderr
    assert json.loads(sums.stdout)["total"] == 3
    listed = sorted(line.split("  ", 1)[1] for line in (tmp_path / "sums" / "in" / "SHA256SUMS").read_text().splitlines())
    assert listed == ["a.txt", "notes.provenance.json", os.path.join("sub", "x.provenance.json")]
    # listed by name (--files-from) too
    (tmp_path / "list.txt").write_text(f"{tmp_path / 'in' / 'notes.provenance.json'}\n{tmp_path / 'in' / 'a.txt'}\n")
    listed_run = batchmill("run", "checksum", "--files-from", str(tmp_path / "list.txt"),
                           "--output", str(tmp_path / "sums2"), "--json", "-q")
    assert listed_run.returncode == 0, listed_run.stderr
    assert json.loads(listed_run.stdout)["total"] == 2
    # with sidecars on, its output would take another output's sidecar name: refused, and said why
    refused = run_recorder(tmp_path / "in", tmp_path / "out", tmp_path / "calls.log", "--provenance", "sidecar")
    assert refused.returncode == 2
    assert "notes.provenance.json" in refused.stderr and "--exclude" in refused.stderr, refused.stderr
    # the sidecars Batchmill wrote are still never inputs
    made = run_recorder(tmp_path / "in", tmp_path / "out", tmp_path / "calls.log", "--provenance", "sidecar",
                        "--exclude", "*.provenance.json")
    assert made.returncode == 0, made.stderr
    again = batchmill("run", "checksum", str(tmp_path / "out" / "in"), "--output", str(tmp_path / "sums3"), "--json", "-q")
    assert json.loads(again.stdout)["total"] == 1, again.stdout


def test_changed_redoes_an_up_to_date_output_whose_sidecar_is_missing(tmp_path: Path) -> None:
    make_inputs(tmp_path / "in", {"a.txt": "alpha\n", "b.txt": "beta\n"})
    out = tmp_path / "out"
    calls = tmp_path / "calls.log"
    assert run_recorder(tmp_path / "in", out, calls, "--overwrite", "changed").returncode == 0
    calls.write_text("")

    dry = batchmill("run", "python", str(tmp_path / "in"), "--output", str(out), "--param", f"script={RECORDER}",
                    "--param", "tag=t7", "--overwrite", "changed", "--provenance", "sidecar", "--dry-run")
    assert "its provenance sidecar is missing" in dry.stdout, dry.stdout
    result = run_recorder(tmp_path / "in", out, calls, "--overwrite", "changed", "--provenance", "sidecar")

    assert result.returncode == 0, result.stderr
    assert sorted(calls.read_text().split()) == ["a.txt", "b.txt"]
    assert sidecar_of(out / "in" / "b.txt")["input"]["size"] == 5


@pytest.mark.parametrize("policy", ["replace", "changed"])
def test_an_output_made_again_without_sidecars_loses_its_stale_sidecar(tmp_path: Path, policy: str) -> None:
    """A sidecar says what made the file beside it: an output replaced by a run without sidecars
    takes its old sidecar with it (before, it stayed, naming an older input, size and job); a
    file of the user's beside an output is not a sidecar and stays."""
    make_inputs(tmp_path / "in", {"a.txt": "alpha\n", "b.txt": "beta\n"})
    out = tmp_path / "out"
    assert run_recorder(tmp_path / "in", out, tmp_path / "calls.log", "--provenance", "sidecar").returncode == 0
    (out / "in" / "b.txt.provenance.json").write_text("my own notes\n")  # not Batchmill's
    (tmp_path / "in" / "a.txt").write_text("alpha, edited\n")
    (tmp_path / "in" / "b.txt").write_text("beta, edited\n")

    again = run_recorder(tmp_path / "in", out, tmp_path / "calls.log", "--overwrite", policy)

    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["done"] == 2
    assert sorted(p.name for p in (out / "in").iterdir()) == ["a.txt", "b.txt", "b.txt.provenance.json"]
    assert (out / "in" / "b.txt.provenance.json").read_text() == "my own notes\n"


def test_why_reads_the_sidecar_of_an_output_the_journal_does_not_know(tmp_path: Path) -> None:
    """A sidecar travels with its output: moved to another machine (another journal), ``batchmill
    why`` of either still says what made it, from the sidecar, and says where it read that."""
    make_inputs(tmp_path / "in", {"a.txt": "alpha\n"})
    out = tmp_path / "out"
    made = run_recorder(tmp_path / "in", out, tmp_path / "calls.log", "--provenance", "sidecar")
    assert made.returncode == 0, made.stderr
    job_id = json.loads(made.stdout)["job_id"]
    elsewhere = {"BATCHMILL_HOME": str(tmp_path / "other-home")}
    output = out / "in" / "a.txt"

    for path in (output, output.with_name("a.txt.provenance.json")):
        why = batchmill("why", str(path), env=elsewhere)
        assert why.returncode == 0, why.stdout + why.stderr
        assert f"from its provenance sidecar {output}.provenance.json (the journal has no record of it)" in why.stdout
        assert f"made by      job {job_id} on" in why.stdout and f"from input   {tmp_path / 'in' / 'a.txt'}" in why.stdout
        assert "processor    python version 1" in why.stdout and "as the sidecar says" in why.stdout, why.stdout
    output.write_text("edited since\n")
    as_json = json.loads(batchmill("why", str(output), "--json", env=elsewhere).stdout)
    assert as_json["found"] and as_json["records"][0]["job_id"] == job_id
    assert as_json["records"][0]["sidecar"] == f"{output}.provenance.json"
    assert "changed since" in batchmill("why", str(output), env=elsewhere).stdout


def test_an_output_that_is_a_folder_gets_its_sidecar_with_hash_inputs_too(tmp_path: Path) -> None:
    """--hash-inputs hashes the output when it is a file; a processor that makes a folder of
    files gets its sidecar all the same (before: every file failed on hashing a folder, and left
    its temporary folder behind)."""
    make_inputs(tmp_path / "in", {"a.txt": "alpha\n"})
    out = tmp_path / "out"

    result = batchmill("run", "python", str(tmp_path / "in"), "--output", str(out), "--param",
                       f"script={SCRIPTS / 'make_folder.py'}", "--provenance", "sidecar", "--hash-inputs", "--json", "-q")

    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(p.name for p in (out / "in").iterdir()) == ["a.txt", "a.txt.provenance.json"]
    side = sidecar_of(out / "in" / "a.txt")
    assert side["output"]["sha256"] is None and len(side["input"]["sha256"]) == 64


def test_a_name_whose_sidecar_would_be_too_long_fails_before_its_processor_runs(tmp_path: Path) -> None:
    """An output named at the file-name limit (255 bytes) has a sidecar name 16 bytes longer than
    any file system takes: that file fails, saying so, without running its processor for nothing
    (before: it ran, then failed on writing the sidecar); the other files are made with theirs."""
    long_name = "x" * 251 + ".txt"
    make_inputs(tmp_path / "in", {long_name: "long\n", "b.txt": "beta\n"})
    out = tmp_path / "out"
    calls = tmp_path / "calls.log"

    result = run_recorder(tmp_path / "in", out, calls, "--provenance", "sidecar")

    assert result.returncode == 1, result.stderr
    [failure] = json.loads(result.stdout)["failures"]
    assert failure["input"] == str(tmp_path / "in" / long_name) and failure["kind"] == "output-error"
    assert "its name would be 271 bytes" in failure["error"] and "--name" in failure["error"], failure
    assert calls.read_text().split() == ["b.txt"], "the processor never ran on the file that could not be kept"
    assert sorted(p.name for p in (out / "in").iterdir()) == ["b.txt", "b.txt.provenance.json"]


def test_the_dry_run_shows_each_sidecar_and_runs_nothing(tmp_path: Path) -> None:
    make_inputs(tmp_path / "in", {"a.txt": "alpha\n"})
    out = tmp_path / "out"
    calls = tmp_path / "calls.log"

    text = batchmill("run", "python", str(tmp_path / "in"), "--output", str(out), "--param", f"script={RECORDER}",
                     "--provenance", "sidecar", "--dry-run", env={"RECORD_CALLS": str(calls)})
    lines = batchmill("run", "python", str(tmp_path / "in"), "--output", str(out), "--param",
                      f"script={RECORDER}", "--provenance", "sidecar", "--dry-run", "--json",
                      env={"RECORD_CALLS": str(calls)})

    assert text.returncode == 0, text.stderr
    sidecar = str(out / "in" / "a.txt.provenance.json")
    assert f"(+ sidecar {sidecar})" in text.stdout, text.stdout
    assert "a provenance sidecar beside each output" in text.stdout
    files = [json.loads(line) for line in lines.stdout.splitlines() if json.loads(line)["type"] == "file"]
    assert files[0]["sidecar"] == sidecar
    assert not calls.exists() and not out.exists()


def test_a_sidecar_that_cannot_be_written_fails_only_its_file(tmp_path: Path) -> None:
    make_inputs(tmp_path / "in", {"a.txt": "alpha\n", "b.txt": "beta\n"})
    out = tmp_path / "out"
    (out / "in" / "a.txt.provenance.json").mkdir(parents=True)  # a folder where a's sidecar goes
    inputs_before = {p.name: p.read_bytes() for p in (tmp_path / "in").iterdir()}

    result = run_recorder(tmp_path / "in", out, tmp_path / "calls.log", "--provenance", "sidecar")

    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert (report["done"], report["failed"]) == (1, 1)
    [failure] = report["failures"]
    assert failure["input"] == str(tmp_path / "in" / "a.txt")
    assert failure["error"].startswith(f"cannot write the provenance sidecar {out / 'in' / 'a.txt.provenance.json'}:")
    assert not (out / "in" / "a.txt").exists(), "an output is not kept without its sidecar"
    assert sidecar_of(out / "in" / "b.txt")["input"]["path"] == str(tmp_path / "in" / "b.txt")
    assert [p.name for p in (out / "in").iterdir() if is_tmp_name(p.name)] == []
    assert {p.name: p.read_bytes() for p in (tmp_path / "in").iterdir()} == inputs_before


def test_rename_gives_the_renamed_output_its_own_sidecar_and_names_cannot_take_the_suffix(tmp_path: Path) -> None:
    make_inputs(tmp_path / "in", {"a.txt": "alpha\n"})
    out = tmp_path / "out"
    make_inputs(out / "in", {"a.txt": "old\n", "a.txt.provenance.json": "{}"})

    result = run_recorder(tmp_path / "in", out, tmp_path / "calls.log", "--provenance", "sidecar",
                          "--overwrite", "rename")

    assert result.returncode == 0, result.stderr
    assert (out / "in" / "a.txt").read_text() == "old\n" and (out / "in" / "a.txt.provenance.json").read_text() == "{}"
    assert sidecar_of(out / "in" / "a (1).txt")["output"]["path"] == str(out / "in" / "a (1).txt")

    refused = run_recorder(tmp_path / "in", tmp_path / "o2", tmp_path / "calls.log", "--provenance", "sidecar",
                           "--name", "{stem}.provenance.json")
    assert refused.returncode == 2
    assert "provenance sidecar" in refused.stderr, refused.stderr


def test_checksum_gets_one_sidecar_for_its_manifest(tmp_path: Path) -> None:
    make_inputs(tmp_path / "in", {"a.txt": "alpha\n", "b.txt": "beta\n"})
    out = tmp_path / "out"

    result = batchmill("run", "checksum", str(tmp_path / "in"), "--output", str(out), "--provenance", "sidecar",
                       "--json", "-q")

    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (out / "in").iterdir()) == ["SHA256SUMS", "SHA256SUMS.provenance.json"]
    side = sidecar_of(out / "in" / "SHA256SUMS")
    assert side["inputs"] == [{"path": str(tmp_path / "in"), "kind": "folder"}]
    assert side["output"]["size"] == (out / "in" / "SHA256SUMS").stat().st_size
    assert side["processor"]["name"] == "checksum" and side["processor"]["params"] == {"algorithm": "sha256"}

    # a manifest made without one, left as it is (up to date), gets its sidecar when asked for
    plain = tmp_path / "plain"
    assert batchmill("run", "checksum", str(tmp_path / "in"), "--output", str(plain), "-q").returncode == 0
    assert [p.name for p in (plain / "in").iterdir()] == ["SHA256SUMS"]
    again = batchmill("run", "checksum", str(tmp_path / "in"), "--output", str(plain), "--provenance", "sidecar",
                      "--overwrite", "replace")
    assert again.returncode == 0 and "is up to date" in again.stderr, again.stderr
    assert sidecar_of(plain / "in" / "SHA256SUMS")["inputs"][0]["path"] == str(tmp_path / "in")


def test_a_manifest_made_again_without_sidecars_loses_its_stale_sidecar(tmp_path: Path) -> None:
    make_inputs(tmp_path / "in", {"a.txt": "alpha\n"})
    out = tmp_path / "out"
    assert batchmill("run", "checksum", str(tmp_path / "in"), "--output", str(out), "--provenance", "sidecar",
                     "-q").returncode == 0
    (tmp_path / "in" / "b.txt").write_text("beta\n")

    again = batchmill("run", "checksum", str(tmp_path / "in"), "--output", str(out), "--overwrite", "replace", "-q")

    assert again.returncode == 0, again.stderr
    assert sorted(p.name for p in (out / "in").iterdir()) == ["SHA256SUMS"]
    assert "b.txt" in (out / "in" / "SHA256SUMS").read_text()


def test_resume_after_a_kill_leaves_every_output_with_a_whole_sidecar(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    make_inputs(folder, {f"f{n:03d}.txt": f"file {n}\n" for n in range(120)})
    out = tmp_path / "out"
    command = [sys.executable, "-m", "batchmill.gui.launcher", "run", "python", str(folder), "--output", str(out),
               "--workers", "2", "--param", f"script={SLOW}", "--param", "delay=0.03", "--provenance", "sidecar"]
    proc = subprocess.Popen(command, env=os.environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (out / "in").exists() or len(list((out / "in").glob("*.provenance.json"))) < 20:
        assert proc.poll() is None and time.monotonic() < deadline, "the run should still be going"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    jobs = json.loads(batchmill("jobs", "--json").stdout)
    [job_id] = [j["job_id"] for j in jobs]
    # What a kill between writing a sidecar and renaming it leaves: its temporary, half written,
    # for a file not done (its output is not there).
    pending = next(f"f{n:03d}.txt" for n in range(119, -1, -1) if not (out / "in" / f"f{n:03d}.txt").exists())
    half = Path(sidecar_tmp(str(out / "in" / pending), job_id))
    half.write_text('{"schema": "batchmill.prov')

    result = batchmill("resume", job_id, "--json")

    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in (out / "in").iterdir())
    assert [n for n in names if is_tmp_name(n) or n.endswith(".bmpart")] == []
    outputs = [n for n in names if not n.endswith(".provenance.json")]
    assert len(outputs) == 120 and len(names) == 240
    for name in outputs:
        assert sidecar_of(out / "in" / name)["input"]["path"] == str(folder / name)


def test_odd_names_give_valid_json(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "é x 'q'.txt").write_text("one\n")
    odd = os.fsdecode(b"\xff-latin1.txt")  # not valid UTF-8
    (folder / odd).write_text("two\n")

    result = batchmill("run", "python", str(folder), "--output", str(tmp_path / "out"), "--param",
                       f"script={SLOW}", "--param", "delay=0", "--provenance", "sidecar", "-q")

    assert result.returncode == 0, result.stderr
    assert sidecar_of(tmp_path / "out" / "in" / "é x 'q'.txt")["input"]["path"] == str(folder / "é x 'q'.txt")
    raw = (tmp_path / "out" / "in" / (odd + ".provenance.json")).read_bytes()
    assert json.loads(raw.decode("utf-8"))["input"]["path"] == str(folder / odd)


def test_a_saved_preset_keeps_the_sidecar_choice(tmp_path: Path) -> None:
    make_inputs(tmp_path / "in", {"a.txt": "alpha\n"})
    saved = batchmill("run", "checksum", str(tmp_path / "in"), "--output", str(tmp_path / "one"),
                      "--provenance", "sidecar", "--save-preset", "with-sidecars", "-q")
    assert saved.returncode == 0, saved.stderr

    again = batchmill("run", "--preset", "with-sidecars", str(tmp_path / "in"), "--output", str(tmp_path / "two"), "-q")
    plain = batchmill("run", "--preset", "with-sidecars", str(tmp_path / "in"), "--output", str(tmp_path / "three"),
                      "--provenance", "journal", "-q")

    assert again.returncode == 0 and plain.returncode == 0, again.stderr + plain.stderr
    assert (tmp_path / "two" / "in" / "SHA256SUMS.provenance.json").exists()
    assert not (tmp_path / "three" / "in" / "SHA256SUMS.provenance.json").exists()


def test_a_failed_file_whose_temporary_is_a_folder_leaves_nothing(tmp_path: Path) -> None:
    make_inputs(tmp_path / "in", {"a.txt": "alpha\n", "b.txt": "beta\n"})
    out = tmp_path / "out"

    result = batchmill("run", "python", str(tmp_path / "in"), "--output", str(out), "--param",
                       f"script={SCRIPTS / 'folder_then_fail.py'}", "--json", "-q")

    assert result.returncode == 1, result.stdout + result.stderr
    failures = json.loads(result.stdout)["failures"]
    assert [f["error"] for f in failures] == ["processor raised RuntimeError: gave up half way"] * 2, failures
    assert not out.exists() or [p.name for p in out.rglob("*")] == [], list(out.rglob("*"))
