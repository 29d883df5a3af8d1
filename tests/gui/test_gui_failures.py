"""Item 3: failed files show with their reasons in the details view; retry failed re-runs only those."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QApplication, QFileDialog
from pytestqt.qtbot import QtBot

from batchmill.gui.jobs_model import Column
from batchmill.gui.main_window import MainWindow
from gui_helpers import BAD, cell, choose_processor, drop_paths, mixed_folder, only_job, run_flaky_job, type_into
from gui_helpers import wait_for_state



def test_failures_show_in_details_and_retry_runs_only_them(
        window: MainWindow, qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inputs = mixed_folder(tmp_path / "in", 9)
    flag, calls = tmp_path / "fixed.flag", tmp_path / "calls.log"
    job_id = run_flaky_job(qtbot, window, inputs, tmp_path / "out", {"fixed_flag": flag, "calls_log": calls})
    assert (cell(window, job_id, Column.DONE), cell(window, job_id, Column.FAILED)) == ("9", "3")
    assert "3 failed" in window.status_label.text()
    assert "FAILED" in window.log.text() and "bad2.txt" in window.log.text()

    qtbot.mouseClick(window.queue.details_button, Qt.MouseButton.LeftButton)
    dialog = window.details[job_id]
    qtbot.waitUntil(dialog.isVisible)
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 3)  # read off the window's thread
    shown = {dialog.table.item(r, 0).text(): dialog.table.item(r, 1).text() for r in range(dialog.table.rowCount())}
    # The path under the dropped folder, not a bare name.
    assert shown == {f"in/{name}": f"processor raised ValueError: cannot process {name}: it is marked bad"
                     for name in BAD}
    # Grouped by reason: three files, one reason (the name that varies is left out).
    reasons = [dialog.reason_filter.itemText(i) for i in range(dialog.reason_filter.count())]
    assert len(reasons) == 2 and reasons[0] == "All reasons (3 files)", reasons
    assert reasons[1].startswith("3 × processor raised ValueError: cannot process"), reasons
    dialog.table.selectRow(1)
    trace = dialog.traceback.toPlainText()
    assert "Traceback (most recent call last)" in trace and "flaky.py" in trace and "bad2.txt" in trace
    assert "batchmill" not in trace.split("flaky.py")[0].replace("Batchmill's own hidden", ""), \
        "the user's frame comes first: Batchmill's own frames are folded"
    assert "of Batchmill's own hidden" in trace
    dialog.full_traceback.setChecked(True)
    assert "worker.py" in dialog.traceback.toPlainText()
    qtbot.mouseClick(dialog.copy_button, Qt.MouseButton.LeftButton)
    copied = QApplication.clipboard().text()
    assert "flaky.py" in copied and "worker.py" in copied, "the copy is the whole traceback"
    assert dialog.note.text() == "traceback of bad2.txt copied to the clipboard"
    opened: list[str] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or False)
    qtbot.mouseClick(dialog.folder_button, Qt.MouseButton.LeftButton)
    assert opened == [str(inputs)] and dialog.note.text() == f"no file manager could open {inputs}"

    report = tmp_path / "report.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(report), ""))
    qtbot.mouseClick(dialog.csv_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.note.text() == f"report written to {report}")  # off the window's thread
    with open(report, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 12
    assert sorted(Path(r["input"]).name for r in rows if r["state"] == "failed") == list(BAD)
    assert all("marked bad" in r["error"] and "Traceback" in r["traceback"] for r in rows if r["state"] == "failed")
    report_json = tmp_path / "report.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(report_json), ""))
    qtbot.mouseClick(dialog.json_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.note.text() == f"report written to {report_json}")
    data = json.loads(report_json.read_text())
    assert (data["job_id"], data["done"], data["failed"], len(data["files"])) == (job_id, 9, 3, 12)

    flag.write_text("fixed")
    assert window.queue.retry_button.isEnabled()
    qtbot.mouseClick(window.queue.retry_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: cell(window, job_id, Column.FAILED) == "0", timeout=60_000)
    wait_for_state(qtbot, window, job_id, "completed")
    assert cell(window, job_id, Column.DONE) == "12"
    runs = Counter(calls.read_text().split())
    assert {name: n for name, n in runs.items() if n != 1} == {name: 2 for name in BAD}
    assert len(runs) == 12
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 0)
    assert "No file has failed" in dialog.summary.text()
    assert not window.queue.retry_button.isEnabled()


STRICT = '''import shutil
from pathlib import Path


def process(src: Path, dst: Path, calls_log: str = "") -> None:
    with open(calls_log, "a", encoding="utf-8") as log:
        log.write(src.name + "\\n")
    if src.name.startswith("bad"):
        raise ValueError(f"cannot process {src.name}: it is marked bad")
    shutil.copyfile(src, dst)
'''


def test_retry_after_the_script_was_fixed_asks_and_runs_the_current_version(
        window: MainWindow, qtbot: QtBot, tmp_path: Path) -> None:
    inputs = mixed_folder(tmp_path / "in", 9)
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

    script.write_text(STRICT.replace('src.name.startswith("bad")', 'src.name.startswith("never")'))  # fixed
    window.queue.select(job_id)
    qtbot.mouseClick(window.queue.retry_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.queue.retry_box is not None and window.queue.retry_box.isVisible())
    box = window.queue.retry_box
    assert box is not None
    assert "edited since the job ran" in box.text()
    current = next(b for b in box.buttons() if b.text() == "Run the current version")
    qtbot.mouseClick(current, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: cell(window, job_id, Column.FAILED) == "0", timeout=60_000)
    wait_for_state(qtbot, window, job_id, "completed")
    assert cell(window, job_id, Column.DONE) == "12"
    runs = Counter(calls.read_text().split())
    assert {name: n for name, n in runs.items() if n != 1} == {name: 2 for name in BAD}, "only the failed files"
    assert any("with the script as it is now" in note for note in window.notifications)
