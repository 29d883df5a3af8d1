"""The installed PySide6 must keep Python's reference counts straight.

PySide6 6.12.0 on Python < 3.12 (upstream PYSIDE-3474) drops a reference to
None on ordinary Qt calls and to True on every signal emission; a window
session then ends in "Fatal Python error: none_dealloc" after a few thousand
calls. Python 3.12+ is immune (None and True are immortal there). This test
fails on such a build, so CI says so instead of the window aborting later.
"""

from __future__ import annotations

import gc
import sys

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

CALLS = 500


class _Emitter(QObject):
    fired = Signal()


def _refcounts() -> tuple[int, int]:
    gc.collect()
    return sys.getrefcount(None), sys.getrefcount(True)


def test_qt_calls_keep_none_and_true_alive(qtbot: QtBot) -> None:
    label = QLabel()
    qtbot.addWidget(label)
    emitter = _Emitter()
    emitter.fired.connect(lambda: None)
    none_before, true_before = _refcounts()
    for i in range(CALLS):
        label.setText(str(i))
        emitter.fired.emit()
    none_after, true_after = _refcounts()
    assert none_after > none_before - CALLS // 2, (
        f"PySide6 lost {none_before - none_after} references to None in {CALLS} calls: a known-broken build "
        "(PYSIDE-3474; PySide6 6.12.0 on Python < 3.12) - install PySide6-Essentials<6.12")
    assert true_after > true_before - CALLS // 2, (
        f"PySide6 lost {true_before - true_after} references to True in {CALLS} signal emissions")
