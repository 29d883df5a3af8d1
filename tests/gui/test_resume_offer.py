"""Item 4: at start-up, a journal with an interrupted job brings the resume offer; accepting it
completes the job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from batchmill.core.engine import Engine
from batchmill.core.events import JobState
from batchmill.gui.bridge import Bridge
from batchmill.gui.jobs_model import Column
from batchmill.gui.main_window import MainWindow
from batchmill.gui.settings import Settings
from gui_helpers import SCRIPTS, cell, make_files, resume_offer, wait_for_state

FILES = 30


def interrupt_a_cli_job(tmp_path: Path, home: Path) -> tuple[Path, Path]:
    """Run a slow job with ``batchmill run`` and kill the process mid-way (as a crash would)."""
    inputs = make_files(tmp_path / "in", FILES)
    out, calls = tmp_path / "out", tmp_path / "calls.log"
    cli = subprocess.Popen(
        [sys.executable, "-m", "batchmill.gui.launcher", "run", "python", str(inputs), "--output", str(out),
         "--param", f"script={SCRIPTS / 'slow_copy.py'}", "--param", "delay=0.1", "--param", f"calls_log={calls}",
         "--workers", "2", "--quiet"],
        env={**os.environ, "BATCHMILL_HOME": str(home)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not (calls.exists() and len(calls.read_text().split()) >= 8):
            assert cli.poll() is None and time.monotonic() < deadline, "the CLI job did not get going"
            time.sleep(0.05)
        time.sleep(0.6)  # a journal flush, so some files are recorded as done
    finally:
        cli.send_signal(signal.SIGKILL)
        cli.wait(10)
    return inputs, out


def test_accepting_the_resume_offer_completes_the_interrupted_job(
        window: MainWindow, engine: Engine, qtbot: QtBot, tmp_path: Path, batchmill_home: Path) -> None:
    inputs, out = interrupt_a_cli_job(tmp_path, batchmill_home)
    interrupted = engine.journal.latest_resumable()
    assert interrupted is not None and interrupted.shown_state is JobState.INTERRUPTED
    assert 0 < interrupted.done < FILES

    box = resume_offer(qtbot, window)
    assert box is not None
    qtbot.waitUntil(box.isVisible)
    assert "did not finish" in box.text() and interrupted.name in box.text()
    assert f"of {FILES} files done" in box.text()
    qtbot.mouseClick(box.defaultButton(), Qt.MouseButton.LeftButton)

    job_id = interrupted.id
    qtbot.waitUntil(lambda: window.bridge.jobs.row_of(job_id) is not None)
    wait_for_state(qtbot, window, job_id, "completed")
    assert cell(window, job_id, Column.DONE) == str(FILES)
    assert cell(window, job_id, Column.FAILED) == "0"
    assert sorted(p.name for p in (out / "in").iterdir()) == sorted(p.name for p in inputs.iterdir())
    assert all((out / "in" / p.name).read_bytes() == p.read_bytes() for p in inputs.iterdir())
    assert resume_offer(qtbot, window) is None, "a completed job is not offered again"


def test_declining_the_offer_is_remembered(qtbot: QtBot, tmp_path: Path, batchmill_home: Path) -> None:
    interrupt_a_cli_job(tmp_path, batchmill_home)
    for attempt in range(2):
        with Engine(batchmill_home) as engine:
            win = MainWindow(Bridge(engine), Settings(batchmill_home))
            qtbot.addWidget(win)
            win.show()
            box = resume_offer(qtbot, win)
            if attempt == 0:
                assert box is not None
                qtbot.waitUntil(box.isVisible)
                not_now = next(b for b in box.buttons() if b.text() == "Not now")
                qtbot.mouseClick(not_now, Qt.MouseButton.LeftButton)
                assert not box.isVisible()
                # Declining resumes nothing (the job may be listed by then, from the history: as it was).
                assert [row.state for row in win.bridge.jobs.jobs()] in ([], [JobState.INTERRUPTED])
            else:
                assert box is None, "a declined job is not offered again"
            win.quit_now()
            win.close()


def test_no_offer_without_an_interrupted_job(window: MainWindow, qtbot: QtBot) -> None:
    assert resume_offer(qtbot, window) is None
    assert window.resume_box is None
