"""Helpers of the window tests: real files, drops like a file manager's, reading the table."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import psutil
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from batchmill.gui.jobs_model import Column
from batchmill.gui.main_window import MainWindow

SCRIPTS = Path(__file__).resolve().parent / "scripts"
JOB_TIMEOUT_MS = 60_000


def make_files(folder: Path, count: int, prefix: str = "f", suffix: str = ".txt") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (folder / f"{prefix}{i:03d}{suffix}").write_text(f"{folder.name} file {i}\n" * (i + 1))
    return folder


def drop_paths(target: QWidget, paths: Sequence[Path | str], urls: Sequence[QUrl] = ()) -> bool:
    """Drag file URLs onto ``target`` as a file manager would; returns whether the drop was accepted."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths] + list(urls))
    centre = QPointF(target.rect().center())
    buttons, modifiers = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    try:  # PySide6 >= 6.12 takes a QPointF (and deprecates QPoint); older ones only a QPoint
        enter = QDragEnterEvent(centre, Qt.DropAction.CopyAction, mime, buttons, modifiers)
    except TypeError:
        enter = QDragEnterEvent(centre.toPoint(), Qt.DropAction.CopyAction, mime, buttons, modifiers)
    QApplication.sendEvent(target, enter)
    if not enter.isAccepted():
        return False
    drop = QDropEvent(centre, Qt.DropAction.CopyAction, mime, buttons, modifiers)
    QApplication.sendEvent(target, drop)
    return drop.isAccepted()


def cell(window: MainWindow, job_id: str, column: Column) -> str:
    """What the queue table shows for a job in a column."""
    model = window.bridge.jobs
    row = model.row_of(job_id)
    assert row is not None, f"job {job_id} is not in the table"
    return str(model.index(row, column).data() or "")


def resume_offer(qtbot: QtBot, window: MainWindow) -> QMessageBox | None:
    """The start-up offer to resume (its jobs are read off the window's thread): the question, or None."""
    window.offer_resume()
    qtbot.waitUntil(lambda: window.offered is not None)
    return window.resume_box


def only_job(window: MainWindow) -> str:
    jobs = window.bridge.jobs.jobs()
    assert len(jobs) == 1, [j.name for j in jobs]
    return jobs[0].job_id


def wait_for_state(qtbot: QtBot, window: MainWindow, job_id: str, state: str,
                   timeout: int = JOB_TIMEOUT_MS) -> None:
    qtbot.waitUntil(lambda: cell(window, job_id, Column.STATE) == state, timeout=timeout)


def choose_processor(qtbot: QtBot, window: MainWindow, name: str) -> None:
    combo = window.task.processor_combo
    combo.setFocus()
    index = combo.findData(name)
    assert index >= 0, f"no processor {name!r} in the picker"
    combo.setCurrentIndex(index)
    qtbot.waitUntil(lambda: window.task.processor_name() == name
                    and all(field.isVisible() for field in window.task.form.fields.values()))


def type_into(qtbot: QtBot, edit: QWidget, text: str) -> None:
    """Replace a line edit's text by typing, like a person."""
    edit.setFocus()
    edit.clear()  # type: ignore[attr-defined]
    qtbot.keyClicks(edit, text)
    edit.editingFinished.emit()  # type: ignore[attr-defined]


def set_up_python_job(qtbot: QtBot, window: MainWindow, script: str, extras: dict[str, object],
                      output: Path, workers: int = 2) -> None:
    choose_processor(qtbot, window, "python")
    type_into(qtbot, window.task.form.field("script").editor, str(SCRIPTS / script))
    extra_edit = window.task.form.extra_edit
    assert extra_edit is not None
    extra_edit.setPlainText("\n".join(f"{k}={v}" for k, v in extras.items()))
    type_into(qtbot, window.task.output_edit, str(output))
    window.task.workers_spin.setValue(workers)


def worker_processes() -> list[psutil.Process]:
    """Live worker processes started by this test process (multiprocessing's resource tracker and
    the forkserver an earlier test may have started are not workers)."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            cmdline = " ".join(child.cmdline())
            if "resource_tracker" in cmdline or "forkserver" in cmdline or child.status() == psutil.STATUS_ZOMBIE:
                continue
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        found.append(child)
    return found


BAD = ("bad1.txt", "bad2.txt", "bad3.txt")  # the files scripts/flaky.py fails (until its fixed_flag exists)


def mixed_folder(folder: Path, good: int) -> Path:
    """``good`` files flaky.py passes and the three of BAD it fails."""
    make_files(folder, good)
    for name in BAD:
        (folder / name).write_text("not good\n")
    return folder


def run_flaky_job(qtbot: QtBot, window: MainWindow, inputs: Path, output: Path,
                  extras: dict[str, object]) -> str:
    """Drop ``inputs``, start scripts/flaky.py on them from the window and wait for its end with
    BAD failed; the job's id."""
    drop_paths(window.inputs.drop_area, [inputs])
    set_up_python_job(qtbot, window, "flaky.py", extras, output)
    qtbot.mouseClick(window.task.start_button, Qt.MouseButton.LeftButton)
    job_id = only_job(window)
    wait_for_state(qtbot, window, job_id, f"completed, {len(BAD)} failed")  # never a plain "completed" with failures
    return job_id
