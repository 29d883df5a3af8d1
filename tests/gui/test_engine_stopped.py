"""The window learns of an engine thread that stops on an error (issue 12 item 6): the job's row
ends as an error with the message, the log says so, and the bridge tells the window once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from batchmill.core.jobrun import JobRun
from batchmill.gui.main_window import MainWindow
from gui_helpers import choose_processor, drop_paths, make_files, only_job, type_into, wait_for_state


def test_a_failing_engine_ends_the_job_in_the_window_and_says_why(window: MainWindow, qtbot: QtBot, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: JobRun, message: Any) -> None:
        raise KeyError("a bug in the bookkeeping")

    monkeypatch.setattr(JobRun, "on_results", broken)
    drop_paths(window.inputs.drop_area, [make_files(tmp_path / "in", 3)])
    choose_processor(qtbot, window, "checksum")
    type_into(qtbot, window.task.output_edit, str(tmp_path / "out"))
    lines: list[tuple[str, str]] = []
    window.bridge.log_lines.connect(lines.extend)

    with qtbot.waitSignal(window.bridge.engine_stopped, timeout=30_000) as stopped:
        qtbot.mouseClick(window.task.start_button, Qt.MouseButton.LeftButton)
    job_id = only_job(window)
    wait_for_state(qtbot, window, job_id, "error")

    assert stopped.args == ["unexpected engine error: KeyError: 'a bug in the bookkeeping'"]
    row = window.bridge.jobs.jobs()[0]
    assert row.error == "unexpected engine error: KeyError: 'a bug in the bookkeeping'"
    qtbot.waitUntil(lambda: ("error", "the engine stopped: unexpected engine error: KeyError: "
                                      "'a bug in the bookkeeping'") in lines)
    assert window.bridge.workers.rowCount() == 0  # its workers went with it: no row says "idle"
