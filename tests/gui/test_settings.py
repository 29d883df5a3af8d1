"""Settings persist in BATCHMILL_HOME/settings.ini: geometry, output folder, workers, processor and
its parameters."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from batchmill.core.engine import Engine
from batchmill.gui.bridge import Bridge
from batchmill.gui.main_window import MainWindow
from batchmill.gui.settings import Settings
from gui_helpers import SCRIPTS, choose_processor, type_into


def open_window(qtbot: QtBot, engine: Engine, home: Path) -> MainWindow:
    win = MainWindow(Bridge(engine), Settings(home))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win


def test_the_next_window_remembers_what_the_last_one_used(qtbot: QtBot, tmp_path: Path,
                                                          batchmill_home: Path) -> None:
    with Engine(batchmill_home) as engine:
        first = open_window(qtbot, engine, batchmill_home)
        first.resize(780, 590)  # inside the offscreen screen (800x600): restoreGeometry keeps a window on screen
        type_into(qtbot, first.task.output_edit, str(tmp_path / "results"))
        first.task.workers_spin.setValue(3)
        choose_processor(qtbot, first, "checksum")
        first.task.form.field("algorithm").set_value("blake2b")
        choose_processor(qtbot, first, "python")
        type_into(qtbot, first.task.form.field("script").editor, str(SCRIPTS / "flaky.py"))
        assert first.task.form.extra_edit is not None
        first.task.form.extra_edit.setPlainText("fixed_flag=/tmp/flag")
        first.close()
        assert not first.isVisible()
    assert (batchmill_home / "settings.ini").is_file()

    with Engine(batchmill_home) as engine:
        second = open_window(qtbot, engine, batchmill_home)
        assert (second.width(), second.height()) == (780, 590)
        assert second.task.output() == str(tmp_path / "results")
        assert second.task.workers() == 3
        assert second.task.processor_name() == "python"
        assert second.task.form.values() == {"script": str(SCRIPTS / "flaky.py"), "function": "process",
                                             "fixed_flag": "/tmp/flag"}
        choose_processor(qtbot, second, "checksum")
        assert second.task.form.values() == {"algorithm": "blake2b"}
        second.quit_now()
        second.close()


def test_a_first_start_opens_at_a_comfortable_size(window: MainWindow) -> None:
    # 1280x800, or as much of it as the screen has room for (the offscreen screen is 800x800)
    available = window.screen().availableGeometry()
    frame = window.frameGeometry()
    assert window.width() == min(1280, available.width() - (frame.width() - window.width()))
    assert window.height() == min(800, available.height() - (frame.height() - window.height()))
    assert available.contains(frame)
    assert window.task.output() == ""


def test_a_small_screen_keeps_job_names_readable(window: MainWindow, qtbot: QtBot) -> None:
    from batchmill.gui.jobs_model import Column
    from batchmill.gui.queue_panel import JOB_NAME_MIN_WIDTH

    table = window.queue.table
    header = table.horizontalHeader()
    window.resize(1280, 800)  # wider than the offscreen screen: a test may size it so, a window opens inside it
    qtbot.waitUntil(lambda: header.sectionSize(Column.NAME) > JOB_NAME_MIN_WIDTH)  # the name takes the spare room
    window.resize(800, 600)
    qtbot.waitUntil(lambda: header.sectionSize(Column.NAME) == JOB_NAME_MIN_WIDTH)
    qtbot.waitUntil(lambda: table.horizontalScrollBar().maximum() > 0)  # the rest is a scroll away, none cut
    window.resize(1280, 800)
    qtbot.waitUntil(lambda: header.sectionSize(Column.NAME) > JOB_NAME_MIN_WIDTH)
