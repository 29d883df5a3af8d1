"""Item 2: pause, resume and cancel by clicking, checked by what the window shows and the engine's state."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from batchmill.core.engine import Engine
from batchmill.core.events import JobState
from batchmill.gui.jobs_model import Column
from batchmill.gui.main_window import MainWindow
from gui_helpers import cell, drop_paths, make_files, only_job, set_up_python_job, wait_for_state, worker_processes

SETTLE_S = 0.6  # longer than the batches already sent to a worker take to finish


def done_shown(window: MainWindow, job_id: str) -> int:
    return int(cell(window, job_id, Column.DONE).replace(",", "") or 0)  # blank until scanned


def start_slow_job(window: MainWindow, qtbot: QtBot, tmp_path: Path, files: int = 60) -> str:
    drop_paths(window.inputs.drop_area, [make_files(tmp_path / "in", files)])
    set_up_python_job(qtbot, window, "slow_copy.py", {"delay": 0.1}, tmp_path / "out")
    qtbot.mouseClick(window.task.start_button, Qt.MouseButton.LeftButton)
    job_id = only_job(window)
    qtbot.waitUntil(lambda: done_shown(window, job_id) >= 3, timeout=30_000)
    return job_id


def test_pause_then_resume_by_clicking(window: MainWindow, engine: Engine, qtbot: QtBot, tmp_path: Path) -> None:
    job_id = start_slow_job(window, qtbot, tmp_path)
    queue = window.queue
    assert queue.pause_button.isEnabled() and not queue.resume_button.isEnabled()

    qtbot.mouseClick(queue.pause_button, Qt.MouseButton.LeftButton)
    wait_for_state(qtbot, window, job_id, "paused", timeout=5000)
    assert engine.state_of(job_id) is JobState.PAUSED
    assert queue.resume_button.isEnabled() and not queue.pause_button.isEnabled()
    time.sleep(SETTLE_S)
    qtbot.wait(200)
    held = done_shown(window, job_id)
    time.sleep(SETTLE_S)
    qtbot.wait(200)
    assert done_shown(window, job_id) == held, "files went on finishing while paused"
    assert held < 60
    assert cell(window, job_id, Column.ETA) == ""

    qtbot.mouseClick(queue.resume_button, Qt.MouseButton.LeftButton)
    wait_for_state(qtbot, window, job_id, "running", timeout=5000)
    assert engine.state_of(job_id) is JobState.RUNNING
    qtbot.waitUntil(lambda: done_shown(window, job_id) > held, timeout=10_000)
    wait_for_state(qtbot, window, job_id, "completed")
    assert cell(window, job_id, Column.DONE) == "60"
    assert len(list((tmp_path / "out" / "in").iterdir())) == 60


def test_cancel_by_clicking_stops_the_job_and_leaves_no_worker(
        window: MainWindow, engine: Engine, qtbot: QtBot, tmp_path: Path) -> None:
    job_id = start_slow_job(window, qtbot, tmp_path)
    assert worker_processes(), "the job should be running on worker processes"
    queue = window.queue
    assert queue.cancel_button.isEnabled()

    qtbot.mouseClick(queue.cancel_button, Qt.MouseButton.LeftButton)
    wait_for_state(qtbot, window, job_id, "cancelled", timeout=10_000)
    assert engine.state_of(job_id) is JobState.CANCELLED
    qtbot.waitUntil(lambda: not worker_processes(), timeout=5000)
    done = done_shown(window, job_id)
    assert 3 <= done < 60
    assert cell(window, job_id, Column.TOTAL) == "60"
    assert not queue.cancel_button.isEnabled() and queue.resume_button.isEnabled()
    notes = [window.bridge.workers.index(r, 4).data() for r in range(window.bridge.workers.rowCount())]
    assert any(note == "stopped: job cancelled" for note in notes), notes
    record = engine.journal.get_job(job_id)
    assert record is not None and record.state is JobState.CANCELLED and record.done == done
    assert window.status_label.text().startswith("No job running"), "a cancelled job did not finish"
    assert not window.overall_bar.isVisible()


def test_remove_takes_a_queued_job_off_and_it_never_runs(
        window: MainWindow, engine: Engine, qtbot: QtBot, tmp_path: Path) -> None:
    first = start_slow_job(window, qtbot, tmp_path, files=30)
    window.inputs.drop_area.list.selectAll()
    qtbot.mouseClick(window.inputs.remove_button, Qt.MouseButton.LeftButton)
    drop_paths(window.inputs.drop_area, [make_files(tmp_path / "later", 5)])
    qtbot.mouseClick(window.task.start_button, Qt.MouseButton.LeftButton)
    second = window.bridge.jobs.jobs()[1].job_id
    assert cell(window, second, Column.STATE) == "queued"
    assert window.queue.remove_button.isEnabled()

    qtbot.mouseClick(window.queue.remove_button, Qt.MouseButton.LeftButton)
    assert window.bridge.jobs.row_of(second) is None
    qtbot.waitUntil(lambda: engine.state_of(second) is JobState.CANCELLED, timeout=5000)
    window.queue.select(first)
    assert not window.queue.remove_button.isEnabled(), "a running job cannot be removed"
    qtbot.mouseClick(window.queue.cancel_button, Qt.MouseButton.LeftButton)
    wait_for_state(qtbot, window, first, "cancelled", timeout=10_000)
    assert not (tmp_path / "out" / "later").exists()
