"""The window's preview before Start: the counts the core preview gives, collisions to fix,
full destinations, no processor run; Start in it queues the job; 'changed' is the default."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot
from PySide6.QtCore import Qt

from batchmill.core.journal import Journal
from batchmill.core.preview import Tally, iter_preview, set_up
from batchmill.core.spec import JobSpec, Overwrite
from batchmill.gui.main_window import MainWindow
from batchmill.gui.preview_dialog import PreviewDialog

from gui_helpers import choose_processor, make_files, only_job, wait_for_state

SHOTS = Path(os.environ.get("BATCHMILL_SCREENSHOTS", "/tmp/batchmill-screens"))
RECORDER = Path(__file__).resolve().parents[1] / "cli" / "scripts" / "record_calls.py"


def core_counts(spec: JobSpec, home: Path) -> dict[str, int]:
    journal = Journal(home)
    try:
        tally = Tally()
        for verdict in iter_preview(set_up(spec, journal)):
            tally.add(verdict)
    finally:
        journal.close()
    return {v.value: n for v, n in tally.counts.items() if n}


def test_the_preview_shows_the_core_counts_and_the_collisions(qtbot: QtBot, tmp_path: Path, batchmill_home: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    folder = make_files(tmp_path / "in", 30)
    (folder / "f000.csv").write_text("claims f000.out too\n")
    (folder / "notes.tmp").write_text("left out\n")
    calls = tmp_path / "calls.log"
    monkeypatch.setenv("RECORD_CALLS", str(calls))
    spec = JobSpec("python", (str(folder),), str(tmp_path / "out"), {"script": str(RECORDER)},
                   exclude=("*.tmp",), name_template="{stem}.out")

    dialog = PreviewDialog(spec, batchmill_home)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: not dialog.timer.isActive(), timeout=30_000)

    assert dialog.counts_shown() == core_counts(spec, batchmill_home) == {"new": 30, "collision": 1, "excluded": 1}
    assert dialog.problems.isVisible() and dialog.problems.topLevelItemCount() == 1
    problem = dialog.problems.topLevelItem(0)
    assert problem.text(0) == str(folder / "f000.txt") and str(folder / "f000.csv") in problem.text(2)
    assert dialog.sample.topLevelItem(0).text(2) == str(tmp_path / "out" / "in" / "f000.out")  # the full path
    # all 32 entries are listed: the heading says so, not "the first 200"
    assert dialog.sample.topLevelItemCount() == 32 and dialog.sample_label.text() == "All 32 files", \
        dialog.sample_label.text()
    assert not dialog.start_button.isEnabled()  # a collision to fix first
    assert "cannot start" in dialog.problems_label.text()
    assert not calls.exists()
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert dialog.grab().save(str(SHOTS / "preview-collision.png"))
    dialog.close()


def test_preview_then_start_from_the_window(qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    folder = make_files(tmp_path / "in", 5)
    assert window.task.overwrite() is Overwrite.CHANGED  # the window's default
    window.inputs.add_paths([str(folder)])
    window.task.set_output(str(tmp_path / "out"))
    choose_processor(qtbot, window, "checksum")

    qtbot.mouseClick(window.task.preview_button, Qt.MouseButton.LeftButton)
    dialog = window.findChild(PreviewDialog)
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.start_button.isEnabled(), timeout=30_000)
    assert dialog.counts_shown() == {"new": 5}
    assert dialog.headline.text() == "5 files: 5 to run, 0 not"
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert dialog.grab().save(str(SHOTS / "preview-start.png"))
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)

    job_id = only_job(window)
    wait_for_state(qtbot, window, job_id, "completed")
    assert len((tmp_path / "out" / "in" / "SHA256SUMS").read_text().splitlines()) == 5


def test_time_a_sample_estimates_without_history_and_the_window_stays_live(
        qtbot: QtBot, tmp_path: Path, batchmill_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = make_files(tmp_path / "in", 12)
    calls = tmp_path / "calls.log"
    monkeypatch.setenv("RECORD_CALLS", str(calls))
    out = tmp_path / "out"
    spec = JobSpec("python", (str(folder),), str(out), {"script": str(RECORDER)}, workers=2)
    dialog = PreviewDialog(spec, batchmill_home)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: not dialog.timer.isActive(), timeout=30_000)
    assert "No estimate yet" in dialog.estimate_label.text() and dialog.sample_button.isVisible()
    assert not calls.exists(), "nothing runs until the operator asks"
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert dialog.grab().save(str(SHOTS / "preview-no-history.png"))

    qtbot.mouseClick(dialog.sample_button, Qt.MouseButton.LeftButton)
    assert dialog.estimate_label.text().startswith("Timing a sample")
    ticks = 0  # the GUI thread keeps turning while the sample runs on its own thread
    while dialog.scan.sampling:
        ticks += 1
        qtbot.wait(20)
    qtbot.waitUntil(lambda: not dialog.timer.isActive(), timeout=30_000)

    text = dialog.estimate_label.text()
    assert text.startswith("Estimate: about") and "sample-based: 3 files of this job timed" in text, text
    assert "for 12 files on 2 workers" in text
    assert ticks > 1, "the event loop ran while the sample was timed"
    assert not dialog.sample_button.isVisible()
    assert len(calls.read_text().split()) == 4 and not out.exists()
    assert dialog.grab().save(str(SHOTS / "preview-sample.png"))


def test_closing_the_preview_stops_a_sample_that_runs(qtbot: QtBot, tmp_path: Path, batchmill_home: Path) -> None:
    folder = make_files(tmp_path / "in", 4)
    log = tmp_path / "pids.log"
    sleeper = RECORDER.with_name("sample_sleep.py")
    spec = JobSpec("python", (str(folder),), str(tmp_path / "out"),
                   {"script": str(sleeper), "seconds": "600", "log": str(log)})
    dialog = PreviewDialog(spec, batchmill_home)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: not dialog.timer.isActive(), timeout=30_000)
    qtbot.mouseClick(dialog.sample_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(log.exists, timeout=30_000)  # the sample's worker is on its first file

    dialog.close()

    assert not dialog.scan.sampling and dialog.scan.sample_run is not None
    assert dialog.scan.sample_run.error == "stopped"
    # the autouse leak check fails the test if the sample's worker process is still there


def test_the_preview_names_each_sidecar_beside_its_output(qtbot: QtBot, tmp_path: Path, batchmill_home: Path) -> None:
    folder = make_files(tmp_path / "in", 2)
    spec = JobSpec("python", (str(folder),), str(tmp_path / "out"), {"script": str(RECORDER)}, provenance="sidecar")
    dialog = PreviewDialog(spec, batchmill_home)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: not dialog.timer.isActive(), timeout=30_000)

    first = dialog.sample.topLevelItem(0)
    assert first.text(2) == f"{tmp_path / 'out' / 'in' / 'f000.txt'}  (+ f000.txt.provenance.json)"
