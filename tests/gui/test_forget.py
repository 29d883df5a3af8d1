"""The window's Remove can also forget a job for good, after a confirmation: the job leaves the
journal (``batchmill jobs`` no longer lists it), its outputs stay; declining keeps it."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from batchmill.gui.main_window import MainWindow
from gui_helpers import choose_processor, drop_paths, make_files, only_job, type_into, wait_for_state


def finished_job(window: MainWindow, qtbot: QtBot, tmp_path: Path) -> str:
    folder = make_files(tmp_path / "in", 4)
    assert drop_paths(window.inputs.drop_area, [folder])
    choose_processor(qtbot, window, "checksum")
    type_into(qtbot, window.task.output_edit, str(tmp_path / "out"))
    qtbot.mouseClick(window.task.start_button, Qt.MouseButton.LeftButton)
    job_id = only_job(window)
    wait_for_state(qtbot, window, job_id, "completed")
    window.queue.select(job_id)
    return job_id


def answer(monkeypatch: pytest.MonkeyPatch, button: QMessageBox.StandardButton) -> list[str]:
    asked: list[str] = []

    def question(_parent: object, title: str, text: str, *_args: object) -> QMessageBox.StandardButton:
        asked.append(f"{title}\n{text}")
        return button

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    return asked


def test_forget_after_confirming_deletes_the_job_from_the_journal(
        window: MainWindow, qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    job_id = finished_job(window, qtbot, tmp_path)
    journal = window.bridge.engine.journal
    assert window.queue.remove_more_button.isEnabled() and window.queue.forget_action.isEnabled()

    asked = answer(monkeypatch, QMessageBox.StandardButton.Cancel)
    window.queue.forget_action.trigger()
    assert asked and "Its outputs on disk stay" in asked[0]
    assert journal.get_job(job_id) is not None and window.bridge.jobs.job(job_id) is not None

    answer(monkeypatch, QMessageBox.StandardButton.Yes)
    window.queue.forget_action.trigger()
    qtbot.waitUntil(lambda: window.bridge.jobs.job(job_id) is None)  # forgotten on the engine thread, then
    assert journal.get_job(job_id) is None
    assert (tmp_path / "out" / "in" / "SHA256SUMS").exists()


def test_plain_remove_only_hides_the_job(window: MainWindow, qtbot: QtBot, tmp_path: Path) -> None:
    job_id = finished_job(window, qtbot, tmp_path)
    qtbot.mouseClick(window.queue.remove_button, Qt.MouseButton.LeftButton)
    assert window.bridge.jobs.job(job_id) is None
    assert window.bridge.engine.journal.get_job(job_id) is not None
