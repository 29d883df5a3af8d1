"""Where a job runs: the window's "Run on" setting gives the JobSpec its backend; the queue says
which backend each job runs on; the workers panel shows the Dask workers' addresses."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.exceptions import TimeoutError as QtTimeoutError
from pytestqt.qtbot import QtBot

from batchmill.gui.backend_field import DASK, LOCAL
from batchmill.gui.jobs_model import Column
from batchmill.gui.main_window import MainWindow
from batchmill.gui.workers_model import WorkerColumn
from gui_helpers import cell, choose_processor, drop_paths, make_files, only_job, type_into, wait_for_state

DASK_JOB_TIMEOUT_MS = 90_000


def set_up_checksum(qtbot: QtBot, window: MainWindow, folder: Path, output: Path) -> None:
    drop_paths(window.inputs.drop_area, [folder])
    choose_processor(qtbot, window, "checksum")
    type_into(qtbot, window.task.output_edit, str(output))
    window.task.workers_spin.setValue(2)


def test_the_run_on_setting_goes_into_the_job_spec(window: MainWindow, qtbot: QtBot, tmp_path: Path) -> None:
    set_up_checksum(qtbot, window, make_files(tmp_path / "in", 2), tmp_path / "out")
    backend = window.task.backend
    assert backend.backend() == LOCAL and not backend.address.isEnabled()
    spec = window.task.build_spec(window.inputs.inputs(), (), (), True)
    assert (spec.backend, spec.scheduler) == ("local", None)

    backend.combo.setCurrentIndex(backend.combo.findData(DASK))
    assert backend.address.isEnabled()
    spec = window.task.build_spec(window.inputs.inputs(), (), (), True)
    assert (spec.backend, spec.scheduler) == ("dask", None)  # empty address: a cluster started here
    type_into(qtbot, backend.address, "tcp://10.1.2.3:8786")
    assert not window.task.workers_spin.isEnabled()  # that cluster's size is its operator's
    spec = window.task.build_spec(window.inputs.inputs(), (), (), True)
    assert (spec.backend, spec.scheduler) == ("dask", "tcp://10.1.2.3:8786")


def test_a_local_job_says_it_runs_on_this_computer(window: MainWindow, qtbot: QtBot, tmp_path: Path) -> None:
    set_up_checksum(qtbot, window, make_files(tmp_path / "in", 3), tmp_path / "out")
    qtbot.mouseClick(window.task.start_button, Qt.MouseButton.LeftButton)
    job_id = only_job(window)
    wait_for_state(qtbot, window, job_id, "completed")
    model = window.bridge.jobs
    index = model.index(model.row_of(job_id) or 0, Column.PROCESSOR)
    assert index.data() == "checksum"
    assert index.data(Qt.ItemDataRole.ToolTipRole) == "checksum, runs on this computer (its own worker processes)"
    workers = window.bridge.workers
    labels = [str(workers.index(r, WorkerColumn.WORKER).data()) for r in range(workers.rowCount())]
    assert labels and all(re.fullmatch(r"#\d+(  \(pid \d+\))?", label) for label in labels), labels


def test_a_job_runs_on_a_local_dask_cluster_from_the_window(window: MainWindow, qtbot: QtBot, tmp_path: Path) -> None:
    pytest.importorskip("distributed", reason="the dask extra is not installed: pip install 'batchmill[dask]'")
    folder = make_files(tmp_path / "in", 6)
    set_up_checksum(qtbot, window, folder, tmp_path / "out")
    window.task.backend.combo.setCurrentIndex(window.task.backend.combo.findData(DASK))
    qtbot.mouseClick(window.task.start_button, Qt.MouseButton.LeftButton)
    job_id = only_job(window)
    assert cell(window, job_id, Column.PROCESSOR) == "checksum · dask"
    try:
        wait_for_state(qtbot, window, job_id, "completed", timeout=DASK_JOB_TIMEOUT_MS)
    except QtTimeoutError:
        pytest.fail(f"the Dask job is still {cell(window, job_id, Column.STATE)}; its log:\n{window.log.text()}")

    check = subprocess.run(["sha256sum", "-c", "--quiet", str(tmp_path / "out" / "in" / "SHA256SUMS")], cwd=folder,
                           capture_output=True)
    assert check.returncode == 0, check.stdout + check.stderr
    model = window.bridge.jobs
    tooltip = model.index(model.row_of(job_id) or 0, Column.PROCESSOR).data(Qt.ItemDataRole.ToolTipRole)
    assert tooltip == "checksum, runs on a Dask cluster started on this computer"
    assert "running on dask (LocalCluster, 2 workers)" in window.log.text()
    workers = window.bridge.workers
    labels = [str(workers.index(r, WorkerColumn.WORKER).data()) for r in range(workers.rowCount())]
    assert labels and all("tcp://127.0.0.1:" in label for label in labels), labels
