"""The window's progress tells the truth on a big folder: the bar never goes back while the job
scans, the total is the folder's from the start, an ETA comes early; the rate leaves paused time
out; the status bar sums up only the jobs that are active."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from batchmill.core.events import JobState
from batchmill.gui.jobs_model import Column, JobRow, NO_PROGRESS, ProgressRole
from batchmill.gui.main_window import MainWindow
from gui_helpers import cell, choose_processor, drop_paths, make_files, only_job, set_up_python_job, type_into
from gui_helpers import wait_for_state

BIG = 100_000


def make_tiny_files(folder: Path, count: int) -> Path:
    """``count`` files of a few bytes in sub-folders of 1,000 (a scan that takes a while)."""
    for i in range(count):
        sub = folder / f"d{i // 1000:03d}"
        if i % 1000 == 0:
            sub.mkdir(parents=True)
        (sub / f"f{i:06d}.txt").write_bytes(b"%d\n" % i)
    return folder


@pytest.mark.slow
def test_a_big_folder_never_shows_progress_going_back(window: MainWindow, qtbot: QtBot, tmp_path: Path) -> None:
    folder = make_tiny_files(tmp_path / "tiny", BIG)
    choose_processor(qtbot, window, "checksum")
    type_into(qtbot, window.task.output_edit, str(tmp_path / "out"))
    drop_paths(window.inputs.drop_area, [folder])
    qtbot.waitUntil(lambda: window.inputs.count_text(str(folder)) == f"{BIG:,} files", timeout=60_000)

    samples: list[tuple[float, float, str, str, str]] = []  # (time, fraction, total, ETA, state)

    def sample() -> None:
        for row in window.bridge.jobs.jobs():
            index = window.bridge.jobs.index(0, Column.PROGRESS)
            samples.append((time.monotonic(), index.data(ProgressRole), cell(window, row.job_id, Column.TOTAL),
                            cell(window, row.job_id, Column.ETA), cell(window, row.job_id, Column.STATE)))

    window.bridge.timer.timeout.connect(sample)  # after the bridge's own drain: what each tick showed
    started = time.monotonic()
    qtbot.mouseClick(window.task.start_button, Qt.MouseButton.LeftButton)
    job_id = only_job(window)
    wait_for_state(qtbot, window, job_id, "completed", timeout=120_000)
    window.bridge.timer.timeout.disconnect(sample)

    fractions = [s[1] for s in samples]
    assert NO_PROGRESS not in fractions, "the window's count is the total from the first tick"
    assert all(a <= b for a, b in zip(fractions, fractions[1:])), "the bar went back"
    assert {s[2] for s in samples} == {f"{BIG:,}"}, "the total shown is the folder's, always"
    first_eta = next((s[0] for s in samples if s[3]), None)
    running = [s for s in samples if s[4] == "running"]
    assert running and first_eta is not None, "an ETA is shown while the job runs"
    # Within 2 s of the job's first running tick (the workers' start-up is not the window's to hide).
    print(f"big folder: {len(samples)} ticks, first ETA {first_eta - started:.2f} s after Start, "
          f"{first_eta - running[0][0]:.2f} s after the first running tick")
    assert first_eta - running[0][0] <= 2.0, f"the first ETA came {first_eta - started:.1f} s after Start"
    assert cell(window, job_id, Column.DONE) == f"{BIG:,}"


def test_the_rate_after_a_pause_is_the_rate_of_running_time(window: MainWindow, qtbot: QtBot,
                                                              tmp_path: Path) -> None:
    # A steady processor: two workers, 0.1 s a file, so about 20 files/s. The true rate is measured
    # from the same run (files done over the last seconds), not assumed: the machine may be busy.
    drop_paths(window.inputs.drop_area, [make_files(tmp_path / "in", 600)])
    set_up_python_job(qtbot, window, "slow_copy.py", {"delay": 0.1}, tmp_path / "out")
    qtbot.mouseClick(window.task.start_button, Qt.MouseButton.LeftButton)
    job_id = only_job(window)
    row = window.bridge.jobs.job(job_id)
    assert row is not None
    qtbot.waitUntil(lambda: row.done >= 60, timeout=60_000)
    qtbot.mouseClick(window.queue.pause_button, Qt.MouseButton.LeftButton)
    wait_for_state(qtbot, window, job_id, "paused")
    assert "paused" in window.status_label.text() and "running" not in window.status_label.text()
    qtbot.wait(10_000)
    qtbot.mouseClick(window.queue.resume_button, Qt.MouseButton.LeftButton)
    wait_for_state(qtbot, window, job_id, "running")
    qtbot.waitUntil(lambda: row.done > 0, timeout=5000)
    done_at_resume = row.done
    qtbot.wait(2000)
    before, at = row.done, time.monotonic()
    qtbot.wait(3000)
    true_rate = (row.done - before) / (time.monotonic() - at)
    shown = float(cell(window, job_id, Column.RATE).replace(",", ""))
    print(f"window after a 10 s pause: shown {shown} files/s, true {true_rate:.1f} files/s")
    assert row.done > done_at_resume and true_rate > 0
    assert abs(shown - true_rate) <= 0.3 * true_rate, f"shown {shown} files/s, true {true_rate:.1f}"
    window.queue.select(job_id)
    qtbot.mouseClick(window.queue.cancel_button, Qt.MouseButton.LeftButton)
    wait_for_state(qtbot, window, job_id, "cancelled")


def test_the_status_bar_counts_only_active_jobs(window: MainWindow) -> None:
    rows = window.bridge.jobs
    rows.add(JobRow("old", "old job", "checksum", "/out", state=JobState.COMPLETED, total=1000, done=1000,
                    scanning=False))
    rows.add(JobRow("now", "running job", "checksum", "/out", state=JobState.RUNNING, total=100, done=68,
                    scanning=False, files_per_s=9.0))
    window.update_status()
    assert window.status_label.text() == "1 running · 68 of 100 files · 9.0 files/s"
    assert window.overall_bar.value() == 68
    row = rows.job("now")
    assert row is not None
    row.state = JobState.PAUSED
    window.update_status()
    assert window.status_label.text() == "1 paused · 68 of 100 files"
    row.state = JobState.CANCELLED
    window.update_status()
    assert window.status_label.text().startswith("No job running") and not window.overall_bar.isVisible()
