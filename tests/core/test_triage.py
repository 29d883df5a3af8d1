"""Triage of failed files: reasons grouped, paths under the dropped folder, tracebacks with the
user's frames first."""

from __future__ import annotations

from pathlib import Path

import batchmill.core.worker as worker
from batchmill.core.triage import group_reasons, reason_of, relative_input, trim_traceback


def test_errors_that_differ_only_by_file_share_a_reason() -> None:
    errors = [f"processor raised ValueError: cannot process bad{i}.txt: row {i} is empty" for i in range(44)]
    errors.append("processor raised OSError: disk full")
    assert group_reasons(errors)[0][1] == 44
    assert len(group_reasons(errors)) == 2
    assert reason_of("could not read '/data/in/a b.txt'") == reason_of("could not read '/data/in/c.txt'")


def test_a_failed_file_reads_with_its_folder() -> None:
    assert relative_input("/data/survey/day-01/IMG_1.jpg", ("/data/survey",)) == "survey/day-01/IMG_1.jpg"
    assert relative_input("/data/one.txt", ("/data/one.txt",)) == "one.txt"
    assert relative_input("/elsewhere/x.txt", ("/data/survey",)) == "/elsewhere/x.txt"


def test_batchmills_frames_are_folded_and_the_users_come_first() -> None:
    own = Path(worker.__file__)
    tb = (f'Traceback (most recent call last):\n  File "{own}", line 10, in run_batch\n    result = task(src)\n'
          f'  File "{own}", line 20, in call\n    return fn(src, dst)\n'
          '  File "/home/me/convert.py", line 7, in process\n    raise ValueError("bad")\nValueError: bad')
    trimmed, hidden = trim_traceback(tb)
    assert hidden == 2
    lines = trimmed.splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert lines[1] == "  … 2 frames of Batchmill's own hidden"
    assert lines[2].startswith('  File "/home/me/convert.py"') and lines[-1] == "ValueError: bad"
    assert trim_traceback("ValueError: bad") == ("ValueError: bad", 0)
