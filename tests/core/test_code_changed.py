"""Issue 15: "the script has changed" (asked before Retry failed, hinted by batchmill retry) is
the script's text against the code fingerprint journaled with the job, not the file's time:
a ``touch`` changes nothing, an edit whose old time was put back is an edit. Real spawn
workers, a real script, a real journal."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from batchmill.core.engine import Engine
from batchmill.core.events import JobFinished, JobState
from batchmill.core.history import JournalReader
from batchmill.core.prepare import code_changed
from batchmill.core.spec import JobSpec
from engine_driver import Recorder

pytestmark = pytest.mark.timeout(120)

SCRIPT = '''import shutil


def process(src, dst):
    if src.name.startswith("bad"):
        raise ValueError("bad file")
    shutil.copyfile(src, dst)
'''


@pytest.fixture
def engine(batchmill_home: Path) -> Iterator[Engine]:
    with Engine(batchmill_home) as eng:
        yield eng


def changed(engine: Engine, job_id: str) -> bool:
    with JournalReader(engine.journal.path) as reader:
        job = reader.job(job_id)
        assert job is not None
        return code_changed(job, reader.job_code(job_id))


def test_a_touch_is_not_an_edit_and_an_edit_with_its_old_time_is(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    for name in ("a.txt", "b.txt", "bad.txt"):
        (tmp_path / "in" / name).write_text(name)
    script = tmp_path / "job.py"
    script.write_text(SCRIPT)
    recorder = Recorder(engine)
    job_id = engine.submit(JobSpec("python", (str(tmp_path / "in"),), str(tmp_path / "out"),
                                   params={"script": str(script)}, workers=1))
    first = recorder.wait_for(JobFinished, lambda e: e.job_id == job_id)
    assert (first.state, first.failed) == (JobState.COMPLETED, 1)
    assert not changed(engine, job_id), "the script as the job ran it"

    later = os.stat(script).st_mtime_ns + 5_000_000_000
    os.utime(script, ns=(later, later))  # touch: a newer time, the same text
    assert not changed(engine, job_id), "a touch changes no code"

    before = os.stat(script).st_mtime_ns
    script.write_text(SCRIPT.replace('startswith("bad")', 'startswith("never")'))
    os.utime(script, ns=(before, before))  # edited, and its old time put back
    assert os.stat(script).st_mtime_ns == before
    assert changed(engine, job_id), "an edit is an edit, whatever the file's time says"

    engine.retry(job_id, current_code=True).result(30)
    again = recorder.wait_for(JobFinished, lambda e: e.job_id == job_id, since=len(recorder.events))
    assert (again.state, again.done, again.failed) == (JobState.COMPLETED, 3, 0), again
    assert not changed(engine, job_id), "the current version became the job's code: nothing to ask again"
    assert (tmp_path / "out" / "in" / "bad.txt").read_text() == "bad.txt"
