"""Write screenshots of the window into resources/screenshots/ (for the README).

    python packaging/screenshots.py [--out resources/screenshots]

Runs offscreen with a private BATCHMILL_HOME and sample data in a temporary
folder, a real engine and real worker processes:

- idle.png       inputs dropped and counted; a script dropped on the window is the processor, its
                 form generated from the function's type hints; an output naming template previewed
- running.png    a job part-way, workers busy with their own progress bars, a second job queued
- failures.png   after a run with failed files (the log tab shows them)
- details.png    the details view of that job (triage): each failed file under its folder, the reasons
                 they share, the user's frames of the traceback first
- about.png      Help → About: what a support request should quote
- selftest.png   Help → Self-test… after it passed
- history.png    the window opened again: past jobs listed from the journal, one completed with failures
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZE = (1280, 800)
DEMO_SCRIPT = '''\
"""Demo processor for the screenshots: pretends to convert each image, with progress."""
import shutil
import time
from pathlib import Path
from typing import Literal


def process(src: Path, dst: Path, context, seconds: float = 1.0,
            colour: Literal["keep", "greyscale", "sepia"] = "keep", dpi: int = 300, deskew: bool = True) -> None:
    """Prepare scanned pages for the archive (a demo: it only pretends to).

    Args:
        seconds: how long each page takes
        colour: keep the colours, or convert every page
        dpi: resolution of the archived page
        deskew: straighten pages scanned at an angle
    """
    if "damaged" in src.name:
        raise ValueError(f"not a valid TIFF file: the header of {src.name} is truncated")
    steps = 10
    for step in range(steps):
        context.progress(step / steps, f"tile {step + 1} of {steps}")
        time.sleep(seconds / steps)
    shutil.copyfile(src, dst)
'''


def make_sample_data(base: Path) -> dict[str, Path]:
    photos = base / "field-photos-2024"
    letters = base / "scanned-letters"
    for folder, stem, ext, count in ((photos, "IMG_", ".jpg", 48), (letters, "letter_", ".tif", 36)):
        for i in range(count):
            sub = folder / (f"day-{i // 12 + 1:02d}" if folder is photos else "")
            sub.mkdir(parents=True, exist_ok=True)
            (sub / f"{stem}{i + 1:04d}{ext}").write_bytes(os.urandom(2048 + 97 * i))
    for i in (5, 17, 29):
        (letters / f"letter_{i:04d}_damaged.tif").write_bytes(b"II*\x00")
    script = base / "convert_demo.py"
    script.write_text(DEMO_SCRIPT)
    return {"photos": photos, "letters": letters, "script": script, "out": base / "converted"}


def wait_until(app: object, condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the window never reached the state to photograph")
        app.processEvents()  # type: ignore[attr-defined]
        time.sleep(0.02)


def settle(app: object, seconds: float = 0.3) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()  # type: ignore[attr-defined]
        time.sleep(0.01)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "resources" / "screenshots")
    parser.add_argument("--size", default="1280x800", help="the window's size, WIDTHxHEIGHT (check 800x600 too)")
    args = parser.parse_args()
    global SIZE
    width, _, height = args.size.partition("x")
    SIZE = (int(width), int(height))
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    work = Path(tempfile.mkdtemp(prefix="batchmill-screens-"))
    os.environ["BATCHMILL_HOME"] = str(work / "home")
    sys.path.insert(0, str(ROOT))
    from batchmill.core.bootstrap import bootstrap

    bootstrap()
    try:
        return take_screenshots(work, args.out)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def take_screenshots(work: Path, out: Path) -> int:
    from PySide6.QtCore import QSize
    from PySide6.QtWidgets import QApplication

    from batchmill.core.engine import Engine
    from batchmill.gui.bridge import Bridge
    from batchmill.gui.main_window import MainWindow
    from batchmill.gui.resources import app_icon
    from batchmill.gui.settings import Settings

    app = QApplication.instance() or QApplication(["batchmill"])
    assert isinstance(app, QApplication)
    app.setApplicationDisplayName("Batchmill")
    app.setWindowIcon(app_icon())
    out.mkdir(parents=True, exist_ok=True)
    data = make_sample_data(work / "data")
    engine = Engine()
    window = MainWindow(Bridge(engine), Settings())
    try:
        window.show()
        window.resize(*SIZE)  # after show: the window fits itself to the screen, and offscreen's is 800x800
        shots: dict[str, Path] = {}

        # 1. idle: inputs dropped and counted, the demo script dropped too (it becomes the processor)
        window.inputs.take_drop([str(data["photos"]), str(data["letters"]), str(data["script"])])
        window.task.form.set_values({"seconds": "1.2", "colour": "greyscale"})
        window.task.names.set_template("{stem}_archive{ext}")
        window.task.set_output(str(data["out"]))
        window.task.workers_spin.setValue(3)
        wait_until(app, lambda: window.inputs.count_of(str(data["letters"])) is not None
                   and window.inputs.count_of(str(data["photos"])) is not None)
        settle(app)
        shots["idle"] = save(window.grab(), out / "idle.png")

        # 2. mid-run: the first job part-way, workers on their files, the second job queued
        window.inputs.drop_area.list.setCurrentItem(window.inputs.drop_area.list.topLevelItem(1))
        window.inputs.remove_selected()
        first = window.start_job()
        window.inputs.clear()
        window.inputs.add_paths([str(data["letters"])])
        second = window.start_job()
        assert first and second, window.task.message.text()
        window.queue.select(first)
        rows = window.bridge.workers

        def mid_run() -> bool:
            job = window.bridge.jobs.job(first)
            busy = [r for r in rows.rows() if r.busy and r.fraction is not None and 0.2 <= r.fraction <= 0.8]
            return job is not None and job.total > 0 and job.done >= 0.3 * job.total and len(busy) >= 2

        wait_until(app, mid_run)
        settle(app, 0.1)
        shots["running"] = save(window.grab(), out / "running.png")

        # 3. after a run with failures: the log tells what failed
        wait_until(app, lambda: not window.bridge.active_jobs(), timeout=180)
        window.queue.select(second)
        window.tabs.setCurrentWidget(window.log)
        settle(app)
        shots["failures"] = save(window.grab(), out / "failures.png")

        dialog = window.show_details(second)
        wait_until(app, lambda: not dialog.loading)  # its failed files are read off the window's thread
        dialog.resize(QSize(960, 560))
        dialog.table.selectRow(0)
        settle(app)
        shots["details"] = save(dialog.grab(), out / "details.png")
        dialog.close()

        about = window.show_about()
        settle(app)
        shots["about"] = save(about.grab(), out / "about.png")
        about.close()
        selftest = window.run_selftest()
        wait_until(app, lambda: selftest.passed is not None, timeout=120)
        settle(app)
        shots["selftest"] = save(selftest.grab(), out / "selftest.png")
        selftest.close()
        # 4. after a restart: the past jobs listed again from the journal (history)
        window.quit_now()
        window.close()
        engine.close()
        engine = Engine()
        window = MainWindow(Bridge(engine), Settings())
        window.show()
        window.resize(*SIZE)
        wait_until(app, lambda: len(window.bridge.jobs.jobs()) >= 2)
        window.queue.select(second)
        settle(app)
        shots["history"] = save(window.grab(), out / "history.png")
        for name, path in shots.items():
            print(f"{name:9} {path}")
        return 0
    finally:
        window.quit_now()
        window.close()
        engine.close()


def save(pixmap: object, path: Path) -> Path:
    if not pixmap.save(str(path)):  # type: ignore[attr-defined]
        raise OSError(f"could not write {path}")
    return path


if __name__ == "__main__":
    sys.exit(main())
