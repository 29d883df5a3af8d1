"""The window fits the screen it opens on, and at 800x600 the queue stays usable."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from batchmill.core.engine import Engine
from batchmill.core.events import JobState
from batchmill.gui.bridge import Bridge
from batchmill.gui.jobs_model import Column, JobRow
from batchmill.gui.main_window import MainWindow
from batchmill.gui.settings import Settings


def open_window(qtbot: QtBot, engine: Engine, home: Path) -> MainWindow:
    win = MainWindow(Bridge(engine), Settings(home))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win


def test_a_saved_geometry_larger_than_the_screen_reopens_inside_it(
        qtbot: QtBot, engine: Engine, batchmill_home: Path) -> None:
    available = QGuiApplication.primaryScreen().availableGeometry()
    first = open_window(qtbot, engine, batchmill_home)
    # Saved at QT_SCALE_FACTOR=2: twice the screen, and partly off it.
    first.setGeometry(available.x() + 300, available.y() + 200, available.width() * 2, available.height() * 2)
    geometry = first.saveGeometry()
    first.quit_now()
    first.close()
    settings = Settings(batchmill_home)
    settings.qsettings.setValue("window/geometry", QByteArray(geometry))
    settings.qsettings.sync()

    with Engine(batchmill_home) as second_engine:
        second = open_window(qtbot, second_engine, batchmill_home)
        try:
            assert available.contains(second.frameGeometry()), (second.frameGeometry(), available)
        finally:
            second.quit_now()
            second.close()


def test_at_800x600_the_queue_shows_several_rows_with_their_rate_and_eta(window: MainWindow, qtbot: QtBot) -> None:
    window.resize(800, 600)
    window.restore_settings()  # a first start in a window this size: its first split
    for n in range(5):
        window.bridge.jobs.add(JobRow(f"job{n}", f"job {n}", "checksum", "/out", state=JobState.RUNNING,
                                      total=100, done=10 * n, files_per_s=3.5, scanning=False))
    qtbot.wait(100)
    table = window.queue.table
    row_height = table.verticalHeader().defaultSectionSize()
    assert table.viewport().height() >= 3 * row_height, "at least three jobs in sight"
    for column in (Column.NAME, Column.STATE, Column.PROGRESS, Column.RATE, Column.ETA):
        right = table.horizontalHeader().sectionViewportPosition(column) + table.columnWidth(column)
        assert right <= table.viewport().width(), f"{column.name} is out of sight"
    assert window.task.start_button.isVisible()
    start = window.task.start_button
    assert window.top_scroll.viewport().rect().contains(
        start.mapTo(window.top_scroll.viewport(), start.rect().bottomRight())), "Start is in sight"


NOTICE = "scans-2024: completed, 3 failed — 9,997 done, 3 failed, 0 skipped of 10,000 files in 2 min 13 s"


def test_a_notice_and_the_running_summary_share_the_status_bar_without_overlapping(
        window: MainWindow, qtbot: QtBot) -> None:
    """At 800 px the notice (QStatusBar.showMessage's, before) ran under the summary of what runs,
    the two reading as one line; now each keeps to its own part and cuts its text with "…"."""
    window.bridge.timer.stop()  # rows of no engine's: not to be ended as orphans by the drain
    for n in range(2):
        window.bridge.jobs.add(JobRow(f"job{n}", f"job {n}", "checksum", "/out", state=JobState.RUNNING,
                                      total=5678, done=617 * (n + 1), failed=6, files_per_s=22.8, scanning=False))
    window.update_status()
    window.notify(NOTICE)
    summary = window.status_label.text()
    for width, cut in ((1280, False), (800, True)):
        window.resize(width, 600 if width == 800 else 800)
        qtbot.waitUntil(lambda: window.statusBar().width() == window.width())
        qtbot.wait(50)
        notice, status, bar = window.notice_label, window.status_label, window.overall_bar
        assert notice.isVisible() and status.isVisible() and bar.isVisible(), status.text()
        shown = [w.geometry() for w in (notice, status, bar)]
        assert shown[0].right() < shown[1].left() and shown[1].right() < shown[2].left(), (width, shown)
        assert window.statusBar().rect().contains(shown[2]), "the bar stays inside the window"
        assert (notice.text(), status.text()) == (NOTICE, summary), "the whole texts, for tooltips and tests"
        if cut:
            assert notice.shown_text().endswith("…") and status.shown_text().endswith("…")
            assert notice.width() >= window.statusBar().width() // 4, "the notice keeps a fair share"
        else:
            assert (notice.shown_text(), status.shown_text()) == (NOTICE, summary), "room for both, in full"
