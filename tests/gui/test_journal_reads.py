"""Issue 15: the window never reads the journal on its GUI thread through the engine's
connection. Details, its report export and the "script changed" check before Retry failed
read off the GUI thread, each on a read-only connection of its own (WAL lets it read while
someone writes), and deliver by signal.

Real spawn workers, a real journal in tmp_path, real Qt offscreen.
"""

from __future__ import annotations

import csv
import os
import re
import sqlite3
import threading
import traceback
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog
from pytestqt.qtbot import QtBot

from batchmill.core.events import JobState
from batchmill.core.history import JournalReader
from batchmill.core.journal import Journal
from batchmill.gui.details_dialog import LOADING
from batchmill.gui.jobs_model import Column
from batchmill.gui.main_window import MainWindow
from gui_helpers import BAD, cell, choose_processor, drop_paths, mixed_folder, only_job, resume_offer, run_flaky_job
from gui_helpers import type_into, wait_for_state



@pytest.fixture
def gui_thread_reads(window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every read through the engine's journal connection made on the GUI thread (with where)."""
    seen: list[str] = []
    journal = window.bridge.engine.journal
    gui_thread = threading.current_thread()
    assert gui_thread is threading.main_thread()

    def guarded(name: str) -> Any:
        original = getattr(Journal, name)

        def read(self: Journal, *args: Any, **kwargs: Any) -> Any:
            if self is journal and threading.current_thread() is gui_thread:
                seen.append(f"Journal.{name} on the GUI thread:\n{''.join(traceback.format_stack(limit=8))}")
            return original(self, *args, **kwargs)

        return read

    for name in ("_read", "_read_snapshot"):
        monkeypatch.setattr(Journal, name, guarded(name))
    yield seen


def test_details_export_retry_and_the_offer_never_read_the_engines_journal_on_the_gui_thread(
        window: MainWindow, qtbot: QtBot, tmp_path: Path, gui_thread_reads: list[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert resume_offer(qtbot, window) is None  # the start-up offer reads off the GUI thread too
    inputs = mixed_folder(tmp_path / "in", 6)
    flag, calls = tmp_path / "fixed.flag", tmp_path / "calls.log"
    job_id = run_flaky_job(qtbot, window, inputs, tmp_path / "out", {"fixed_flag": flag, "calls_log": calls})

    qtbot.mouseClick(window.queue.details_button, Qt.MouseButton.LeftButton)
    dialog = window.details[job_id]
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 3)
    assert sorted(dialog.table.item(r, 0).text() for r in range(3)) == [f"in/{n}" for n in BAD]
    report = tmp_path / "report.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(report), ""))
    qtbot.mouseClick(dialog.csv_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.note.text() == f"report written to {report}")
    with open(report, newline="", encoding="utf-8") as handle:
        assert Counter(row["state"] for row in csv.DictReader(handle)) == {"done": 6, "failed": 3}

    flag.write_text("fixed")
    window.queue.select(job_id)
    qtbot.mouseClick(window.queue.retry_button, Qt.MouseButton.LeftButton)
    wait_for_state(qtbot, window, job_id, "completed")
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 0)
    assert window.queue.retry_box is None, "the script is unchanged: nothing to ask"

    assert gui_thread_reads == [], gui_thread_reads[0]


def test_details_open_while_a_writer_holds_the_journal_and_fill_in(
        window: MainWindow, qtbot: QtBot, tmp_path: Path) -> None:
    """Another process mid-write holds the journal's write lock; the engine thread waits behind it
    (writing the operator's new name for the job, holding the engine journal's lock). Renaming
    and opening Details both return at once; Details says it is reading and fills in from its own
    read-only connection while the writer still holds the journal; the name is journaled after."""
    inputs = mixed_folder(tmp_path / "in", 6)
    job_id = run_flaky_job(qtbot, window, inputs, tmp_path / "out",
                           {"fixed_flag": tmp_path / "no.flag", "calls_log": tmp_path / "calls.log"})
    journal = window.bridge.engine.journal

    writer = sqlite3.connect(journal.path, isolation_level=None, check_same_thread=False)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE jobs SET name = name WHERE id = ?", (job_id,))  # holds the write lock, uncommitted
    released = threading.Event()

    def release() -> None:
        if not released.is_set():
            released.set()
            writer.execute("ROLLBACK")

    # A net for a window that does block: it would wait here, not for the journal's 60 s busy timeout.
    safety = threading.Timer(20.0, release)
    safety.start()
    try:
        window.bridge.rename(job_id, "renamed behind the writer")
        assert not released.is_set(), "renaming waited for the writer"
        assert cell(window, job_id, Column.NAME) == "renamed behind the writer"
        qtbot.waitUntil(lambda: not _free(journal))  # the engine thread holds its connection, waiting for the writer
        dialog = window.show_details(job_id)
        assert not released.is_set(), "opening Details waited for the writer"
        assert dialog.isVisible() and dialog.loading
        assert LOADING in dialog.summary.text() and dialog.table.rowCount() == 0
        assert "No file has failed" not in dialog.summary.text()

        qtbot.waitUntil(lambda: dialog.table.rowCount() == 3, timeout=10_000)
        assert not released.is_set() and not _free(journal), "filled in while the writer held the journal"
        assert not dialog.loading and LOADING not in dialog.summary.text()
        assert "it is marked bad" in dialog.table.item(0, 1).text()
    finally:
        release()
        safety.cancel()
        qtbot.waitUntil(lambda: _free(journal), timeout=30_000)
        writer.close()

    def journaled() -> bool:
        with JournalReader(journal.path) as reader:
            record = reader.job(job_id)
        return record is not None and record.name == "renamed behind the writer"

    qtbot.waitUntil(journaled)


def _free(journal: Journal) -> bool:
    """Whether the engine journal's lock is free (taken and given back at once if so)."""
    if journal._lock.acquire(blocking=False):
        journal._lock.release()
        return True
    return False


STRICT = '''import shutil


def process(src, dst, calls_log=""):
    with open(calls_log, "a", encoding="utf-8") as log:
        log.write(src.name + "\\n")
    if src.name.startswith("bad"):
        raise ValueError(f"cannot process {src.name}: it is marked bad")
    shutil.copyfile(src, dst)
'''


def test_retry_asks_about_an_edit_not_a_touch(window: MainWindow, qtbot: QtBot, tmp_path: Path) -> None:
    """A touch (a newer time, the same text) retries with the job's code at once; an edit whose
    old time was put back asks, and the current version then passes."""
    inputs = mixed_folder(tmp_path / "in", 6)
    script, calls = tmp_path / "strict.py", tmp_path / "calls.log"
    script.write_text(STRICT)
    drop_paths(window.inputs.drop_area, [inputs])
    choose_processor(qtbot, window, "python")
    type_into(qtbot, window.task.form.field("script").editor, str(script))
    window.task.form.extra_edit.setPlainText(f"calls_log={calls}")  # type: ignore[union-attr]
    type_into(qtbot, window.task.output_edit, str(tmp_path / "out"))
    qtbot.mouseClick(window.task.start_button, Qt.MouseButton.LeftButton)
    job_id = only_job(window)
    wait_for_state(qtbot, window, job_id, "completed, 3 failed")

    later = os.stat(script).st_mtime_ns + 10_000_000_000
    os.utime(script, ns=(later, later))  # touched
    window.queue.select(job_id)
    qtbot.mouseClick(window.queue.retry_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: any("with the code the job was made with" in n for n in window.notifications))
    assert window.queue.retry_box is None, "a touch is no edit: nothing to ask"
    qtbot.waitUntil(lambda: all(Counter(calls.read_text().split())[name] == 2 for name in BAD), timeout=60_000)
    qtbot.waitUntil(lambda: window.bridge.engine.state_of(job_id) is JobState.COMPLETED, timeout=60_000)
    wait_for_state(qtbot, window, job_id, "completed, 3 failed")  # the same code fails the same files

    before = os.stat(script).st_mtime_ns
    script.write_text(STRICT.replace('startswith("bad")', 'startswith("never")'))
    os.utime(script, ns=(before, before))  # edited, its old time put back
    qtbot.mouseClick(window.queue.retry_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.queue.retry_box is not None and window.queue.retry_box.isVisible())
    box = window.queue.retry_box
    assert box is not None and "edited since the job ran" in box.text()
    current = next(b for b in box.buttons() if b.text() == "Run the current version")
    qtbot.mouseClick(current, Qt.MouseButton.LeftButton)
    wait_for_state(qtbot, window, job_id, "completed")
    assert cell(window, job_id, Column.DONE) == "9"
    runs = Counter(calls.read_text().split())
    assert {name: n for name, n in runs.items() if n != 1} == {name: 3 for name in BAD}, "only the failed files"


def test_a_second_retry_at_once_is_refused_in_the_window(window: MainWindow, qtbot: QtBot, tmp_path: Path) -> None:
    """The engine decides a retry on its own thread: of two at once (a double click), one runs
    the failed files and the other is refused, said in the status bar and the log, no traceback."""
    inputs = mixed_folder(tmp_path / "in", 6)
    calls = tmp_path / "calls.log"
    job_id = run_flaky_job(qtbot, window, inputs, tmp_path / "out",
                           {"fixed_flag": tmp_path / "never.flag", "calls_log": calls})

    window.bridge.retry(job_id)
    window.bridge.retry(job_id)  # the engine has the first by now, or will before it: queued or running

    qtbot.waitUntil(lambda: any(n.startswith("Cannot retry: ") for n in window.notifications))
    [refusal] = [n for n in window.notifications if n.startswith("Cannot retry: ")]
    assert re.fullmatch(f"Cannot retry: job {job_id} is still (queued|planning|running); retry it when it has "
                        "finished", refusal), refusal
    qtbot.waitUntil(lambda: all(Counter(calls.read_text().split())[name] == 2 for name in BAD), timeout=60_000)
    wait_for_state(qtbot, window, job_id, "completed, 3 failed")  # the one retry ran them; they fail again
    assert f"cannot retry: job {job_id} is still" in window.log.text()
    assert "Traceback" not in window.log.text()
    runs = Counter(calls.read_text().split())
    assert {name: n for name, n in runs.items() if n != 1} == {name: 2 for name in BAD}, "the failed files ran again once"


def test_details_whose_read_fails_say_so_and_fill_in_once_the_journal_reads_again(
        window: MainWindow, qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A read that fails (a journal locked past the busy timeout, say) is said in the dialog, and
    tried again until it works; the dialog then fills in."""
    inputs = mixed_folder(tmp_path / "in", 6)
    job_id = run_flaky_job(qtbot, window, inputs, tmp_path / "out",
                           {"fixed_flag": tmp_path / "no.flag", "calls_log": tmp_path / "calls.log"})
    original = JournalReader.files
    failures = {"left": 2}

    def locked(self: JournalReader, *args: Any, **kwargs: Any) -> Any:
        if failures["left"] > 0:
            failures["left"] -= 1
            raise sqlite3.OperationalError("database is locked")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(JournalReader, "files", locked)
    dialog = window.show_details(job_id)
    qtbot.waitUntil(lambda: dialog.note.text().startswith("could not read the failed files: "))
    assert dialog.note.text().endswith("database is locked; trying again") and dialog.loading
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 3, timeout=15_000)
    assert failures["left"] == 0 and not dialog.loading and dialog.note.text() == ""
    assert window.log.text().count("could not be read: database is locked") == 1, "told once, not at every try"
    assert "Traceback" not in window.log.text(), "a locked journal is no bug"
