"""The ``batchmill`` program ends a command line job without the interpreter's teardown
(``batchmill.gui.launcher.program``: ~15 ms of a one-file job): whatever it wrote still arrives
whole, through a pipe, and its exit status is the job's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(120)

FAILS_LOUDLY = '''
from pathlib import Path


def process(src: Path, dst: Path) -> None:
    raise ValueError("this input is no good: " + "x" * 2000 + src.name)
'''


def test_a_job_s_whole_json_and_its_exit_status_come_through_a_pipe(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(200):
        (folder / f"f{i:03d}.txt").write_text(str(i))
    script = tmp_path / "fails.py"
    script.write_text(FAILS_LOUDLY)

    result = subprocess.run([sys.executable, "-m", "batchmill", "run", "python", str(folder), "--output",
                             str(tmp_path / "out"), "--param", f"script={script}", "--json"],
                            capture_output=True, text=True, timeout=90,
                            env={k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"})  # buffered, as usual

    assert result.returncode == 1, result.stderr[-2000:]
    report = json.loads(result.stdout)  # more than a pipe's 64 KiB: all of it was flushed
    assert result.stdout.endswith("}\n"), result.stdout[-100:]  # its last bytes too, which wait in the buffer
    assert len(result.stdout) > 1 << 16 and report["failed"] == 200 and len(report["failures"]) == 200
    assert result.stderr.rstrip().endswith(f"batchmill retry {report['job_id']}"), result.stderr[-500:]


def test_a_small_job_s_json_is_not_left_in_its_buffer(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text("alpha")

    result = subprocess.run([sys.executable, "-m", "batchmill", "run", "checksum", str(folder), "--output",
                             str(tmp_path / "out"), "--json", "-q"], capture_output=True, text=True, timeout=90,
                            env={k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"})

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["done"] == 1 and result.stdout.endswith("}\n")
