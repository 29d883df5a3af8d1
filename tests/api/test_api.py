"""The Python API (``batchmill.run`` / ``submit`` / ``resume`` / ``retry``) with real spawn workers,
real files and the real journal: closures, a host script's ``__main__`` function, progress,
cancel from another thread, per-file failures, and every bad argument refused before any
worker starts."""

from __future__ import annotations

import importlib.util
import json
import sqlite3
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import batchmill
from api_helpers import batchmill_cli, run_script, started_processes, texts
from batchmill.core.journal import Journal

pytestmark = pytest.mark.timeout(120)


def journal_jobs(home: Path) -> list[Any]:
    if not (home / "journal.sqlite3").exists():
        return []
    journal = Journal(home)
    try:
        return journal.list_jobs()
    finally:
        journal.close()


def test_a_closure_over_local_state(inputs: Path, tmp_path: Path) -> None:
    prefix, repeat = ">> ", 2

    def shout(src: Path, dst: Path) -> int:
        dst.write_text(prefix + src.read_text().upper() * repeat)
        return len(src.read_text())

    result = batchmill.run(shout, inputs, tmp_path / "out", workers=2)

    assert (result.state, result.total, result.done, result.failed) == ("completed", 12, 12, 0)
    assert result.ok and result.exit_status == 0
    expected = {name: prefix + text.upper() * repeat for name, text in texts(inputs).items()}
    assert texts(tmp_path / "out" / "in") == expected
    assert result.values() == {inputs / name: len(text) for name, text in texts(inputs).items()}
    assert {f.output for f in result.files} == {tmp_path / "out" / "in" / name for name in expected}


def test_a_lambda_with_params_and_the_context(inputs: Path, tmp_path: Path) -> None:
    result = batchmill.run(
        lambda src, dst, *, tag, context: dst.write_text(f"{tag}:{context.worker}:{src.name}"),
        inputs, tmp_path / "out", params={"tag": "T"}, workers=2, include=["f*.txt"], recursive=False)

    made = texts(tmp_path / "out" / "in")
    assert sorted(made) == sorted(n for n in texts(inputs) if "/" not in n and n.startswith("f"))
    assert all(text.startswith("T:") and text.endswith(name) for name, text in made.items())
    assert result.done == len(made)


HOST_SCRIPT = '''
import json, os, sys
from pathlib import Path

with open("body-runs.txt", "a") as runs:  # no __main__ guard: counts how often the body runs
    runs.write(f"{os.getpid()}\\n")

import batchmill

SUFFIX = "!"

def exclaim(src: Path, dst: Path) -> str:
    """A function of the host's __main__, using one of its globals."""
    dst.write_text(src.read_text().strip() + SUFFIX)
    return src.name

result = batchmill.run(exclaim, sys.argv[1], sys.argv[2], workers=2)
print(json.dumps({"state": result.state, "done": result.done, "values": sorted(result.values().values())}))
'''


def test_a_function_from_an_unguarded_main_runs_once_in_the_parent_only(inputs: Path, tmp_path: Path,
                                                                          batchmill_home: Path) -> None:
    script = tmp_path / "tool.py"
    script.write_text(HOST_SCRIPT)

    ran = run_script(script, tmp_path, args=(str(inputs), str(tmp_path / "out")))

    assert ran.returncode == 0, ran.stderr
    report = json.loads(ran.stdout)
    assert (report["state"], report["done"]) == ("completed", 12)
    assert report["values"] == sorted(Path(n).name for n in texts(inputs))
    assert texts(tmp_path / "out" / "in") == {n: t.strip() + "!" for n, t in texts(inputs).items()}
    assert len((tmp_path / "body-runs.txt").read_text().splitlines()) == 1  # not once more per worker
    assert [job.state.value for job in journal_jobs(batchmill_home)] == ["completed"]


def test_progress_never_goes_down_and_reaches_the_total(tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for n in range(120):
        (folder / f"{n:03d}.txt").write_text(str(n))
    seen: list[batchmill.Progress] = []
    caller = threading.get_ident()
    threads: set[int] = set()

    def on_progress(progress: batchmill.Progress) -> None:
        threads.add(threading.get_ident())
        seen.append(progress)

    result = batchmill.run(lambda src, dst: (time.sleep(0.01), dst.write_text("x")), folder, tmp_path / "out",
                           workers=2, progress=on_progress)

    assert result.done == 120
    assert len(seen) >= 3
    for before, after in zip(seen, seen[1:]):
        assert after.total >= before.total
        assert (after.done, after.failed, after.skipped) >= (before.done, before.failed, before.skipped)
        assert after.finished >= before.finished
    assert (seen[-1].finished, seen[-1].total, seen[-1].fraction) == (120, 120, 1.0)
    assert threads == {caller}  # run() reports on the caller's thread (a host's UI may need that)


def slow_copy(src: Path, dst: Path) -> None:
    time.sleep(0.15)
    dst.write_bytes(src.read_bytes())


def test_cancel_from_another_thread_then_resume_the_journaled_function(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for n in range(60):
        (folder / f"{n:02d}.txt").write_text(f"{n}\n")
    marker = "copied"

    def copy(src: Path, dst: Path) -> None:
        slow_copy(src, dst)
        dst.write_text(dst.read_text() + marker)

    job = batchmill.submit(copy, folder, tmp_path / "out", workers=2)
    canceller = threading.Thread(target=lambda: (_wait_until(lambda: job.progress.done >= 4), job.cancel()))
    canceller.start()
    result = job.wait(timeout=60)
    canceller.join()

    assert result.state == "cancelled" and result.exit_status == 130
    assert 4 <= result.done < 60
    assert {f.status for f in result.files} <= {"done", "pending"}
    assert job.done() and job.state == "cancelled"

    # The rest runs from the journal: the closure itself is not needed (nor reachable from the CLI).
    resumed = batchmill_cli("resume", job.id, "--json", "-q", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["done"] == 60
    assert texts(tmp_path / "out" / "in") == {f"{n:02d}.txt": f"{n}\n{marker}" for n in range(60)}


def _wait_until(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_per_file_exceptions_are_in_the_result_and_retry_runs_them_again(inputs: Path, tmp_path: Path,
                                                                         batchmill_home: Path) -> None:
    flag = tmp_path / "refuse"
    flag.touch()

    def picky(src: Path, dst: Path) -> None:
        if src.name.startswith("bad") and flag.exists():
            raise ValueError(f"refusing {src.name}")
        dst.write_text(src.read_text())

    result = batchmill.run(picky, inputs, tmp_path / "out", workers=2)

    assert (result.state, result.done, result.failed) == ("completed", 10, 2)
    assert not result.ok and result.exit_status == 1
    failures = {f.input.name: f for f in result.failures}
    assert sorted(failures) == ["bad03.txt", "bad07.txt"]
    assert failures["bad03.txt"].error == "processor raised ValueError: refusing bad03.txt"
    assert failures["bad03.txt"].kind == "processor-error"
    assert "raise ValueError" in (failures["bad03.txt"].traceback or "")

    flag.unlink()
    retried = batchmill.retry(result.job_id).wait(timeout=60)
    assert (retried.state, retried.done, retried.failed) == ("completed", 12, 0)
    assert texts(tmp_path / "out" / "in") == texts(inputs)
    jobs = journal_jobs(batchmill_home)
    assert [(job.id, job.processor) for job in jobs] == [(result.job_id, "function")]
    assert jobs[0].identity.startswith("function:test_api.test_per_file_exceptions_are_in_the_result")


def test_iterating_a_job_yields_every_file_as_it_finishes(inputs: Path, tmp_path: Path) -> None:
    with batchmill.submit(lambda src, dst: dst.write_text("ok"), inputs, tmp_path / "out", workers=2) as job:
        finished = list(job)
        result = job.wait()
    assert sorted(f.input for f in finished) == sorted(f.input for f in result.files)
    assert all(f.status == "done" and f.output is not None and f.output.read_text() == "ok" for f in finished)


def test_a_processor_by_name_with_its_params(tmp_path: Path, inputs: Path) -> None:
    result = batchmill.run("checksum", inputs, tmp_path / "out", params={"algorithm": "md5"}, workers=1)
    assert result.ok
    manifest = (tmp_path / "out" / "in" / "MD5SUMS").read_text().splitlines()
    assert len(manifest) == 12 and manifest[0].endswith("bad03.txt")


def module_function(src: Path, dst: Path) -> None:
    dst.write_text("module")


def test_a_module_level_function_goes_by_reference(inputs: Path, tmp_path: Path) -> None:
    assert batchmill.run(module_function, inputs, tmp_path / "out", workers=1).done == 12
    assert set(texts(tmp_path / "out" / "in").values()) == {"module"}


def _unimportable_function(tmp_path: Path) -> Any:
    """A function of a module loaded under a name of its own, as a host loads a toolbox file."""
    source = tmp_path / "toolbox.pyt"
    source.write_text("def work(src, dst):\n    dst.write_text('x')\n")
    spec = importlib.util.spec_from_loader("toolbox_1234", importlib.machinery.SourceFileLoader(
        "toolbox_1234", str(source)))
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    import sys

    sys.modules["toolbox_1234"] = module
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module.work


def _unpicklable(tmp_path: Path) -> Any:
    connection = sqlite3.connect(":memory:")

    def uses_a_connection(src: Path, dst: Path) -> None:
        connection.execute("select 1")

    return uses_a_connection


BAD_ARGUMENTS = {
    "missing input": (lambda t: dict(inputs=t / "nowhere"), batchmill.JobError, "does not exist"),
    "no inputs": (lambda t: dict(inputs=[]), batchmill.JobError, "no inputs given"),
    "unknown function parameter": (lambda t: dict(params={"size": 3}), batchmill.JobError,
                                   "unexpected keyword argument 'size'"),
    "function of one argument": (lambda t: dict(task=lambda src: None), batchmill.JobError,
                                 "cannot be called as fn(src, dst)"),
    "unpicklable function": (lambda t: dict(task=_unpicklable(t)), batchmill.JobError,
                             "the variable 'connection'"),
    "function workers cannot import": (lambda t: dict(task=_unimportable_function(t)), batchmill.JobError,
                                       "worker processes cannot import"),
    "unknown processor": (lambda t: dict(task="no-such"), batchmill.JobError, "unknown processor 'no-such'"),
    "unknown processor parameter": (lambda t: dict(task="checksum", params={"algo": "md5"}), batchmill.JobError,
                                    "has no parameter 'algo'"),
    "bad processor parameter": (lambda t: dict(task="checksum", params={"algorithm": "crc"}), batchmill.JobError,
                                "must be one of"),
    "the function processor by name": (lambda t: dict(task="function"), batchmill.JobError,
                                       "cannot be started by name"),
    "no workers": (lambda t: dict(workers=0), batchmill.JobError, "workers must be at least 1"),
    "negative timeout": (lambda t: dict(timeout=-1), batchmill.JobError, "timeout must be a positive"),
    "unknown overwrite": (lambda t: dict(overwrite="sometimes"), batchmill.JobError, "'sometimes'"),
    "bad halt_after": (lambda t: dict(halt_after="many"), batchmill.JobError, "--halt-after takes"),
    "bad name template": (lambda t: dict(name="{nope}"), batchmill.JobError, "nope"),
    "output is a file": (lambda t: dict(output=t / "in" / "f01.txt"), batchmill.JobError, "is not a folder"),
    "task of the wrong kind": (lambda t: dict(task=42), TypeError, "task must be a callable"),
    "one include pattern as a string": (lambda t: dict(include="*.txt"), TypeError, "a list of patterns"),
    "params that are no mapping": (lambda t: dict(params=[("a", 1)]), TypeError, "params must be a mapping"),
}


@pytest.mark.parametrize("case", list(BAD_ARGUMENTS))
def test_each_bad_argument_raises_before_any_worker_starts(case: str, inputs: Path, tmp_path: Path,
                                                            batchmill_home: Path) -> None:
    make, error, message = BAD_ARGUMENTS[case]
    arguments: dict[str, Any] = dict(task=lambda src, dst: None, inputs=inputs, output=tmp_path / "out")
    arguments.update(make(tmp_path))
    before = started_processes()

    task, where, output = arguments.pop("task"), arguments.pop("inputs"), arguments.pop("output")
    for start in (batchmill.run, batchmill.submit):
        with pytest.raises(error) as raised:
            start(task, where, output, **arguments)
        assert message in str(raised.value)

    assert started_processes() == before
    assert not [t for t in threading.enumerate() if t.name.startswith(("batchmill-engine", "batchmill-job"))]
    assert journal_jobs(batchmill_home) == []
    assert not (tmp_path / "out").exists()


UNGUARDED_CHILD = '''
import multiprocessing, os, sys
with open("body-runs.txt", "a") as runs:
    runs.write(f"{os.getpid()}\\n")
import batchmill
result = batchmill.run(lambda src, dst: dst.write_text("x"), sys.argv[1], sys.argv[2], workers=1)
print("parent job", result.state)
# The script's own child process (not a Batchmill worker) re-runs this unguarded body as it starts.
child = multiprocessing.get_context("spawn").Process(target=print, args=("child ran",))
child.start()
child.join()
print("child exit", child.exitcode)
'''


def test_a_child_process_re_running_an_unguarded_script_is_refused_a_job(inputs: Path, tmp_path: Path,
                                                                          batchmill_home: Path) -> None:
    script = tmp_path / "unguarded.py"
    script.write_text(UNGUARDED_CHILD)

    ran = run_script(script, tmp_path, args=(str(inputs), str(tmp_path / "out")))

    assert "parent job completed" in ran.stdout, ran.stderr
    assert "child exit 1" in ran.stdout
    assert "refusing to start a job in a child process" in ran.stderr
    assert 'if __name__ == "__main__"' in ran.stderr
    assert len((tmp_path / "body-runs.txt").read_text().splitlines()) == 2  # the parent, and the child's start
    assert len(journal_jobs(batchmill_home)) == 1


SELF_LOADING = '''
import sys
from pathlib import Path
import batchmill

def process(src: Path, dst: Path) -> None:
    dst.write_text(src.read_text())

# No __main__ guard: loading this script to find process() starts this job again.
try:
    batchmill.run("python", sys.argv[1], sys.argv[2], params={"script": __file__})
except batchmill.JobError as exc:
    print("refused:", exc)
'''


def test_a_script_that_runs_itself_as_the_python_processor_gets_an_error_not_a_recursion(
        inputs: Path, tmp_path: Path, batchmill_home: Path) -> None:
    script = tmp_path / "self_loading.py"
    script.write_text(SELF_LOADING)

    ran = run_script(script, tmp_path, args=(str(inputs), str(tmp_path / "out")))

    # Loading the script for its function runs its body again, whose job is refused (and
    # caught by the script); the job the script started runs once.
    assert ran.returncode == 0, ran.stderr
    assert "RecursionError" not in ran.stdout + ran.stderr
    refusals = [line for line in ran.stdout.splitlines() if line.startswith("refused:")]
    assert len(refusals) == 1 and "starts a Batchmill job with itself while it is loaded" in refusals[0]
    assert [job.state.value for job in journal_jobs(batchmill_home)] == ["completed"]
    assert texts(tmp_path / "out" / "in") == texts(inputs)


def test_a_function_job_is_listed_and_shown_by_the_cli(inputs: Path, tmp_path: Path) -> None:
    result = batchmill.run(_times, inputs, tmp_path / "out", params={"n": 3}, job_name="tripled", workers=1)
    shown = batchmill_cli("show", result.job_id, "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    job = json.loads(shown.stdout)
    assert (job["name"], job["processor"], job["state"]) == ("tripled", "function", "completed")
    assert job["spec"]["params"] == {"function": "test_api._times", "params": {"n": 3}}


def _times(src: Path, dst: Path, n: int) -> None:
    dst.write_text(src.read_text() * n)


def test_the_public_names_are_documented_and_typed() -> None:
    for name in batchmill.__all__:
        value = getattr(batchmill, name)
        if callable(value):
            assert value.__doc__, name
    assert (Path(batchmill.__file__).parent / "py.typed").is_file()


NO_TYPING = '''
import sys
import batchmill
print(sorted(m for m in ("typing", "batchmill.core.api", "batchmill.core.engine", "dill") if m in sys.modules))
'''


def test_import_batchmill_loads_nothing_heavy(tmp_path: Path) -> None:
    """Workers import batchmill as the parent of batchmill.core: the API is loaded on first use."""
    script = tmp_path / "probe.py"
    script.write_text(NO_TYPING)
    ran = run_script(script, tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "[]"
