"""Jobs outlive the window: an interrupted job is offered again after a restart (every one of
them, whatever the operator cancelled since), and past jobs are listed from the journal."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from batchmill.core.engine import Engine
from batchmill.core.events import JobState
from batchmill.core.spec import JobSpec
from batchmill.gui.bridge import Bridge
from batchmill.gui.jobs_model import Column
from batchmill.gui.main_window import MainWindow
from batchmill.gui.settings import Settings
from gui_helpers import SCRIPTS, cell, make_files, resume_offer, wait_for_state

FILES = 12
DEAD_PID = 4_194_305  # above the largest pid_max Linux allows: never a live process


def end_the_process(home: Path) -> None:
    """The window of the first launch ran in this test's process, which lives on: its jobs are
    handed to a process that has exited, as they would be after a real quit."""
    db = sqlite3.connect(home / "journal.sqlite3")
    with db:
        db.execute("UPDATE jobs SET owner_pid = ?", (DEAD_PID,))
    db.close()


def slow_spec(tmp_path: Path, name: str) -> JobSpec:
    inputs = make_files(tmp_path / name, FILES)
    return JobSpec("python", (str(inputs),), str(tmp_path / f"out-{name}"), name=name, workers=2,
                   params={"script": str(SCRIPTS / "slow_copy.py"), "delay": 0.15})


@pytest.fixture
def open_window(qtbot: QtBot, batchmill_home: Path) -> Iterator[list[MainWindow]]:
    """Opens windows on engines of their own, as separate launches would; closes them all."""
    opened: list[MainWindow] = []
    yield opened
    for win in opened:
        win.quit_now()
        win.close()
        win.bridge.engine.close()


def launch(qtbot: QtBot, home: Path, opened: list[MainWindow]) -> MainWindow:
    win = MainWindow(Bridge(Engine(home, file_events=False)), Settings(home))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    opened.append(win)
    return win


def test_jobs_interrupted_by_quitting_are_offered_after_a_restart_though_a_newer_one_was_cancelled(
        qtbot: QtBot, tmp_path: Path, batchmill_home: Path, open_window: list[MainWindow]) -> None:
    # Queue three jobs, remove the last (cancelled: it never ran), quit while the first runs.
    first = launch(qtbot, batchmill_home, open_window)
    running, waiting, removed = (first.bridge.submit(slow_spec(tmp_path, name)) for name in ("one", "two", "three"))
    qtbot.waitUntil(lambda: cell(first, running, Column.STATE) == "running", timeout=30_000)
    first.queue.select(removed)
    qtbot.mouseClick(first.queue.remove_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: first.bridge.engine.journal.get_job(removed).state is JobState.CANCELLED)  # type: ignore[union-attr]
    first.quit_now()
    first.close()
    first.bridge.engine.close()
    end_the_process(batchmill_home)

    second = launch(qtbot, batchmill_home, open_window)
    box = resume_offer(qtbot, second)
    assert box is not None, "the interrupted jobs must be offered"
    qtbot.waitUntil(box.isVisible)
    assert "2 jobs did not finish" in box.text()
    assert "“one”: interrupted" in box.text() and "“two”: interrupted" in box.text()
    assert "three" not in box.text(), "a job the operator cancelled is not offered"
    qtbot.mouseClick(box.defaultButton(), Qt.MouseButton.LeftButton)

    for job_id in (running, waiting):
        qtbot.waitUntil(lambda: second.bridge.jobs.row_of(job_id) is not None)
        wait_for_state(qtbot, second, job_id, "completed")
        assert cell(second, job_id, Column.DONE) == str(FILES)
    for name in ("one", "two"):
        assert sorted(p.name for p in (tmp_path / f"out-{name}" / name).iterdir()) == \
            sorted(p.name for p in (tmp_path / name).iterdir())


def fail_three_spec(tmp_path: Path, name: str) -> JobSpec:
    folder = make_files(tmp_path / name, 9)
    for bad in ("bad1.txt", "bad2.txt", "bad3.txt"):
        (folder / bad).write_text("not good\n")
    return JobSpec("python", (str(folder),), str(tmp_path / f"out-{name}"), name=name, workers=2,
                   params={"script": str(SCRIPTS / "flaky.py"), "fixed_flag": str(tmp_path / "no-such-flag")})


def test_past_jobs_are_listed_after_a_restart_with_their_counts_and_details(
        qtbot: QtBot, tmp_path: Path, batchmill_home: Path, open_window: list[MainWindow]) -> None:
    first = launch(qtbot, batchmill_home, open_window)
    clean = first.bridge.submit(JobSpec("checksum", (str(make_files(tmp_path / "clean", 5)),),
                                        str(tmp_path / "out-clean"), name="clean"))
    flawed = first.bridge.submit(fail_three_spec(tmp_path, "flawed"))
    hidden = first.bridge.submit(JobSpec("checksum", (str(make_files(tmp_path / "hidden", 2)),),
                                         str(tmp_path / "out-hidden"), name="hidden"))
    for job_id in (clean, hidden):
        wait_for_state(qtbot, first, job_id, "completed")
    wait_for_state(qtbot, first, flawed, "completed, 3 failed")
    first.queue.select(hidden)
    qtbot.mouseClick(first.queue.remove_button, Qt.MouseButton.LeftButton)
    first.quit_now()
    first.close()
    first.bridge.engine.close()

    second = launch(qtbot, batchmill_home, open_window)
    qtbot.waitUntil(lambda: second.bridge.jobs.row_of(flawed) is not None)
    assert [row.job_id for row in second.bridge.jobs.jobs()] == [clean, flawed], "removed stays removed"
    assert [cell(second, clean, c) for c in (Column.STATE, Column.DONE, Column.FAILED, Column.TOTAL)] == \
        ["completed", "5", "0", "5"]
    assert [cell(second, flawed, c) for c in (Column.STATE, Column.DONE, Column.FAILED, Column.TOTAL)] == \
        ["completed, 3 failed", "9", "3", "12"]
    assert second.status_label.text() == "No job running", "past jobs are not this session's work"
    second.queue.select(flawed)
    assert second.queue.retry_button.isEnabled() and second.queue.details_button.isEnabled()
    qtbot.mouseClick(second.queue.details_button, Qt.MouseButton.LeftButton)
    dialog = second.details[flawed]
    qtbot.waitUntil(dialog.isVisible)
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 3)
    assert "bad2.txt" in dialog.table.item(1, 0).text()
    assert "it is marked bad" in dialog.table.item(1, 1).text()
