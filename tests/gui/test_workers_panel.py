"""The workers panel: each worker's file, that file's own progress, how long it has been on it,
and a file nearing its timeout standing out."""

from __future__ import annotations

from pathlib import Path

import pytest

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from batchmill.gui.bridge import FailureRow
from batchmill.gui.jobs_model import Column, ProgressRole
from batchmill.gui.main_window import MainWindow
from batchmill.gui.workers_model import NEAR_TIMEOUT_BACKGROUND, NearTimeoutRole, WorkerColumn
from gui_helpers import cell, drop_paths, only_job, set_up_python_job, wait_for_state


def worker_cells(window: MainWindow, column: WorkerColumn, role: int = Qt.ItemDataRole.DisplayRole) -> list[object]:
    model = window.bridge.workers
    return [model.index(r, column).data(role) for r in range(model.rowCount())]


def test_a_file_nearing_its_timeout_stands_out_then_fails(window: MainWindow, qtbot: QtBot, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "slow one.dat").write_text("takes long\n")
    drop_paths(window.inputs.drop_area, [folder])
    set_up_python_job(qtbot, window, "reports_progress.py", {"linger": 5}, tmp_path / "out", workers=1)
    window.task.timeout_spin.setValue(2.0)
    qtbot.mouseClick(window.task.start_button, Qt.MouseButton.LeftButton)
    job_id = only_job(window)

    qtbot.waitUntil(lambda: "slow one.dat" in worker_cells(window, WorkerColumn.FILE), timeout=15_000)
    qtbot.waitUntil(lambda: worker_cells(window, WorkerColumn.PROGRESS) == ["50 %"], timeout=5000)
    assert worker_cells(window, WorkerColumn.PROGRESS, ProgressRole) == [0.5]
    assert worker_cells(window, WorkerColumn.NOTE) == ["half-way"]
    assert worker_cells(window, WorkerColumn.NOTE, NearTimeoutRole) == [False]

    qtbot.waitUntil(lambda: worker_cells(window, WorkerColumn.NOTE, NearTimeoutRole) == [True], timeout=5000)
    assert worker_cells(window, WorkerColumn.NOTE) == ["near its 2 s timeout"]
    background = worker_cells(window, WorkerColumn.FILE, Qt.ItemDataRole.BackgroundRole)[0]
    assert background is not None and background.color() == NEAR_TIMEOUT_BACKGROUND
    elapsed = str(worker_cells(window, WorkerColumn.ELAPSED)[0])
    assert elapsed.endswith(" s") and float(elapsed[:-2]) >= 1.5

    wait_for_state(qtbot, window, job_id, "completed, 1 failed", timeout=15_000)
    assert cell(window, job_id, Column.FAILED) == "1"
    failures: list[FailureRow] = []
    window.bridge.read_failures(job_id, failures.extend, pytest.fail)  # read off the window's thread
    qtbot.waitUntil(lambda: bool(failures))
    assert [f.error for f in failures] == ["ran longer than the 2 s timeout; its worker process was killed"]
    assert worker_cells(window, WorkerColumn.NOTE, NearTimeoutRole) == [False] * window.bridge.workers.rowCount()
