"""Fixtures of the window tests: a real engine (spawn workers) and a real window (offscreen);
teardown closes the window and shuts the engine down (the autouse no_leaks fixture checks)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from batchmill.core.engine import Engine
from batchmill.gui.bridge import Bridge
from batchmill.gui.main_window import MainWindow
from batchmill.gui.settings import Settings


@pytest.fixture
def engine(batchmill_home: Path) -> Iterator[Engine]:
    eng = Engine(batchmill_home, file_events=False)  # as batchmill.gui.app makes it
    yield eng
    eng.close()


@pytest.fixture
def window(qtbot: QtBot, engine: Engine, batchmill_home: Path) -> Iterator[MainWindow]:
    win = MainWindow(Bridge(engine), Settings(batchmill_home))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.quit_now()
    win.close()
