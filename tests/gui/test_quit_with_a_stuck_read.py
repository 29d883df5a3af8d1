"""Issue 15: quitting never waits on a read of the journal that does not come back (one stuck
behind a journal another program holds). The window's reads run on threads nobody waits for at
quit: each has its own read-only connection, and nothing is left to show its answer.

A real window in a process of its own (offscreen), quit with both read threads stuck; the
process must end soon after, not when (or if) the reads do.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

QUIT_BOUND_S = 5.0  # the reads stay stuck for ever: without the fix the process never ends

WINDOW = '''
import sys, threading
from pathlib import Path

from PySide6.QtWidgets import QApplication

from batchmill.core.engine import Engine
from batchmill.gui.bridge import Bridge
from batchmill.gui.main_window import MainWindow
from batchmill.gui.settings import Settings

if __name__ == "__main__":
    home = Path(sys.argv[1])
    app = QApplication([])
    engine = Engine(home, file_events=False)
    window = MainWindow(Bridge(engine), Settings(home))
    window.show()
    never, started = threading.Event(), threading.Semaphore(0)

    def stuck(reader):
        reader.offered_jobs()  # a real read on its own connection, then it waits as one behind a lock would
        started.release()
        never.wait()

    window.bridge.reads.read(stuck, print, print)
    window.bridge.reads.read(stuck, print, print)  # both read threads
    assert started.acquire(timeout=30) and started.acquire(timeout=30)
    print("quitting", flush=True)
    window.close()
    engine.close()
    print("closed", flush=True)
'''


def test_quitting_with_reads_stuck_ends_at_once(tmp_path: Path, batchmill_home: Path) -> None:
    script = tmp_path / "window.py"
    script.write_text(WINDOW)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    child = subprocess.Popen([sys.executable, str(script), str(batchmill_home)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "quitting\n", child.stderr.read() if child.stderr else ""
        asked = time.monotonic()
        try:
            code = child.wait(timeout=QUIT_BOUND_S * 4)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running {QUIT_BOUND_S * 4:.0f} s after quit: it waits for the stuck reads")
        took = time.monotonic() - asked
        err = child.stderr.read() if child.stderr else ""
        assert code == 0, err
        assert took < QUIT_BOUND_S, f"quitting took {took:.1f} s"
        assert child.stdout.read() == "closed\n"
        assert "Traceback" not in err, err
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
