"""Item 1: drop real folders, pick a processor, start, watch the table say done, check the disk."""

from __future__ import annotations

import subprocess
from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from batchmill.core.engine import Engine
from batchmill.core.events import JobState
from batchmill.gui.jobs_model import Column
from batchmill.gui.main_window import MainWindow
from gui_helpers import (
    cell, choose_processor, drop_paths, make_files, only_job, set_up_python_job, type_into, wait_for_state,
)


def test_dropped_folders_are_checksummed_and_the_table_shows_the_counts(
        window: MainWindow, qtbot: QtBot, tmp_path: Path) -> None:
    photos = make_files(tmp_path / "in" / "photos", 25)
    scans = make_files(tmp_path / "in" / "scan folder", 14)
    (scans / "nested").mkdir()
    (scans / "nested" / "deep.txt").write_text("deep\n")
    out = tmp_path / "out"

    assert drop_paths(window.inputs.drop_area, [photos, scans])
    qtbot.waitUntil(lambda: window.inputs.count_text(str(photos)) == "25 files"
                    and window.inputs.count_text(str(scans)) == "15 files")
    assert window.inputs.summary.text() == "2 inputs · 40 files"
    choose_processor(qtbot, window, "checksum")
    assert window.task.form.field("algorithm").value() == "sha256"
    type_into(qtbot, window.task.output_edit, str(out))
    window.task.workers_spin.setValue(2)

    qtbot.mouseClick(window.task.start_button, Qt.MouseButton.LeftButton)
    job_id = only_job(window)
    wait_for_state(qtbot, window, job_id, "completed")

    assert [cell(window, job_id, c) for c in (Column.DONE, Column.FAILED, Column.SKIPPED, Column.TOTAL)] == \
        ["40", "0", "0", "40"]
    assert cell(window, job_id, Column.PROGRESS) == "100 %"
    assert cell(window, job_id, Column.PROCESSOR) == "checksum"
    assert window.status_label.text() == "All jobs finished · 40 files"
    assert not window.overall_bar.isVisible(), "no overall bar once nothing runs"
    for folder in (photos, scans):
        manifest = out / folder.name / "SHA256SUMS"
        check = subprocess.run(["sha256sum", "-c", "--quiet", str(manifest)], cwd=folder, capture_output=True)
        assert check.returncode == 0, check.stdout + check.stderr
        assert len(manifest.read_text().splitlines()) == len([p for p in folder.rglob("*") if p.is_file()])
    assert any("completed — 40 done, 0 failed" in n for n in window.notifications)


def test_jobs_queued_one_after_another_run_in_order(
        window: MainWindow, engine: Engine, qtbot: QtBot, tmp_path: Path) -> None:
    first = make_files(tmp_path / "first", 8)
    second = make_files(tmp_path / "second", 8)
    out = tmp_path / "out"
    set_up_python_job(qtbot, window, "slow_copy.py", {"delay": 0.05}, out)

    drop_paths(window.inputs.drop_area, [first])
    qtbot.mouseClick(window.task.start_button, Qt.MouseButton.LeftButton)
    window.inputs.drop_area.list.selectAll()
    qtbot.mouseClick(window.inputs.remove_button, Qt.MouseButton.LeftButton)
    drop_paths(window.inputs.drop_area, [second])
    qtbot.mouseClick(window.task.start_button, Qt.MouseButton.LeftButton)

    jobs = window.bridge.jobs.jobs()
    assert [j.name for j in jobs] == ["python: first", "python: second"]
    first_id, second_id = jobs[0].job_id, jobs[1].job_id
    qtbot.waitUntil(lambda: cell(window, first_id, Column.STATE) == "running")
    assert cell(window, second_id, Column.STATE) == "queued"
    wait_for_state(qtbot, window, second_id, "completed")
    assert cell(window, first_id, Column.STATE) == "completed"

    a, b = engine.journal.get_job(first_id), engine.journal.get_job(second_id)
    assert a is not None and b is not None and a.finished is not None and b.started is not None
    assert a.finished <= b.started
    assert b.state is JobState.COMPLETED and (a.done, b.done) == (8, 8)
    assert sorted(p.name for p in (out / "second").iterdir()) == sorted(p.name for p in second.iterdir())


def test_start_without_inputs_or_output_says_what_is_missing(window: MainWindow, qtbot: QtBot,
                                                             tmp_path: Path) -> None:
    qtbot.mouseClick(window.task.start_button, Qt.MouseButton.LeftButton)
    assert window.task.message.isVisible()
    assert "Add at least one folder or file" in window.task.message.text()
    drop_paths(window.inputs.drop_area, [make_files(tmp_path / "in", 2)])
    window.task.output_edit.clear()
    qtbot.mouseClick(window.task.start_button, Qt.MouseButton.LeftButton)
    assert window.task.message.text() == "Choose an output folder."
    assert window.bridge.jobs.rowCount() == 0


def test_a_job_the_engine_refuses_shows_why_next_to_start(window: MainWindow, qtbot: QtBot,
                                                          tmp_path: Path) -> None:
    inputs = make_files(tmp_path / "in", 2)
    drop_paths(window.inputs.drop_area, [inputs])
    choose_processor(qtbot, window, "checksum")
    (tmp_path / "not-a-folder").write_text("x")
    type_into(qtbot, window.task.output_edit, str(tmp_path / "not-a-folder"))
    qtbot.mouseClick(window.task.start_button, Qt.MouseButton.LeftButton)
    assert window.task.message.text() == f"The job cannot start: output {tmp_path / 'not-a-folder'} exists and is " \
                                         "not a folder"
    assert window.bridge.jobs.rowCount() == 0
