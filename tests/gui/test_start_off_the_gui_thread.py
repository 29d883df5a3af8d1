"""Issue 15: the window's thread never waits on the journal. Start hands the new job to the
engine thread, which writes it to the journal; the window lists the job at once and stays
responsive while another program holds the journal's write lock. A job the journal refuses
(locked past the busy timeout) is said in the window and not left listed.

Real spawn workers, a real journal in tmp_path (held by a second real connection), real Qt offscreen.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from pytestqt.qtbot import QtBot

from batchmill.core import journal as journal_module
from batchmill.core.history import JournalReader
from batchmill.core.journal import Journal
from batchmill.gui.jobs_model import Column
from batchmill.gui.main_window import MainWindow
from gui_helpers import cell, choose_processor, drop_paths, make_files, only_job, type_into, wait_for_state

HELD_S = 3.0
TIMER_MS = 20
LONGEST_GAP_S = 0.5  # a responsiveness check: the window's thread is never held up behind the journal
QUIT_BOUND_S = 5.0  # the engine thread was joined for 30 s while the new job waited up to 60 s


@contextmanager
def write_lock_held(path: Path, held_s: float = HELD_S) -> Iterator[threading.Event]:
    """Another program mid-write: a second connection holds the journal's write lock (uncommitted).
    The Event is set once it has let go (released by a timer thread, not the window's, after ``held_s``)."""
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE jobs SET name = name")
    released = threading.Event()

    def release() -> None:
        writer.execute("ROLLBACK")
        released.set()

    timer = threading.Timer(held_s, release)
    timer.start()
    try:
        yield released
    finally:
        timer.join()
        writer.close()


@contextmanager
def gaps_of_the_gui_thread() -> Iterator[list[float]]:
    """The gaps between the ticks of a timer on the window's thread, in seconds."""
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(TIMER_MS)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    ticks.append(time.monotonic())
    timer.start()
    gaps: list[float] = []
    try:
        yield gaps
    finally:
        timer.stop()
        ticks.append(time.monotonic())
        gaps.extend(b - a for a, b in zip(ticks, ticks[1:]))


def set_up_checksums(qtbot: QtBot, window: MainWindow, tmp_path: Path) -> Path:
    folder = make_files(tmp_path / "in", 6)
    drop_paths(window.inputs.drop_area, [folder])
    choose_processor(qtbot, window, "checksum")
    type_into(qtbot, window.task.output_edit, str(tmp_path / "out"))
    return folder


def test_start_returns_at_once_while_another_program_holds_the_journal(
        window: MainWindow, qtbot: QtBot, tmp_path: Path) -> None:
    set_up_checksums(qtbot, window, tmp_path)
    journal = window.bridge.engine.journal
    with write_lock_held(journal.path) as released, gaps_of_the_gui_thread() as gaps:
        qtbot.mouseClick(window.task.start_button, Qt.MouseButton.LeftButton)
        assert not released.is_set(), "Start waited for the journal's writer"
        job_id = only_job(window)  # listed at once, queued
        assert cell(window, job_id, Column.STATE) == "queued"
        window.grab().save(str(tmp_path / "start-while-held.png"))
        qtbot.waitUntil(released.is_set, timeout=int(HELD_S * 1000) + 5000)
        assert window.task.message.text() == "" or not window.task.message.isVisible()
    assert len(gaps) > HELD_S * 1000 / TIMER_MS / 4, "the timer ran all along"
    assert max(gaps) < LONGEST_GAP_S, f"the window's thread stood still for {max(gaps):.2f} s"
    wait_for_state(qtbot, window, job_id, "completed")
    assert cell(window, job_id, Column.DONE) == "6"
    with JournalReader(journal.path) as reader:
        assert reader.job(job_id) is not None


def test_a_job_the_journal_refuses_is_said_in_the_window_and_not_listed(
        window: MainWindow, qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    set_up_checksums(qtbot, window, tmp_path)
    journal = window.bridge.engine.journal
    monkeypatch.setattr(journal_module, "BUSY_TIMEOUT_S", 0.3)  # locked past the busy timeout, without waiting 60 s
    with write_lock_held(journal.path) as released, gaps_of_the_gui_thread() as gaps:
        qtbot.mouseClick(window.task.start_button, Qt.MouseButton.LeftButton)
        assert not released.is_set(), "Start waited for the journal's writer"
        qtbot.waitUntil(lambda: window.task.message.isVisible()
                        and window.task.message.text().startswith("The job cannot start: "), timeout=10_000)
        assert not released.is_set()
        assert f"the journal {journal.path} is locked" in window.task.message.text(), window.task.message.text()
        assert window.bridge.jobs.jobs() == [], "the refused job is not left half-listed"
        qtbot.waitUntil(released.is_set, timeout=int(HELD_S * 1000) + 5000)
    assert max(gaps) < LONGEST_GAP_S, f"the window's thread stood still for {max(gaps):.2f} s"
    assert "Traceback" not in window.log.text()
    window.grab().save(str(tmp_path / "start-refused.png"))

    qtbot.mouseClick(window.task.start_button, Qt.MouseButton.LeftButton)  # the journal is free again
    job_id = only_job(window)
    assert not window.task.message.isVisible(), "the refusal is not said of the next job"
    wait_for_state(qtbot, window, job_id, "completed")



def test_quitting_while_a_new_job_waits_for_the_journal_does_not_wait_with_it(
        window: MainWindow, qtbot: QtBot, tmp_path: Path) -> None:
    """The engine thread waits for the journal to write the new job; quitting then gives that up
    at once (the job was never journaled: nothing to resume) instead of waiting behind the writer."""
    set_up_checksums(qtbot, window, tmp_path)
    journal = window.bridge.engine.journal
    writer = sqlite3.connect(journal.path, isolation_level=None, check_same_thread=False)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE jobs SET name = name")
    try:
        qtbot.mouseClick(window.task.start_button, Qt.MouseButton.LeftButton)
        job_id = only_job(window)
        qtbot.waitUntil(lambda: not _free(journal))  # the engine thread is writing it, waiting for the writer
        asked = time.monotonic()
        window.quit_now()
        took = time.monotonic() - asked
        assert took < QUIT_BOUND_S, f"quitting waited {took:.1f} s for the journal"
        assert not window.bridge.engine.alive
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    with JournalReader(journal.path) as reader:
        assert reader.job(job_id) is None, "never journaled: nothing is left to resume"


def _free(journal: Journal) -> bool:
    """Whether the engine journal's lock is free (taken and given back at once if so)."""
    if journal._lock.acquire(blocking=False):
        journal._lock.release()
        return True
    return False
