"""Issue 12, item 9 in the window: a journal that cannot be used at start-up (here a damaged
one) is said in a message box naming the file and what to do; the window exits 2, no traceback,
and the file is kept as it was."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from batchmill.gui.app import parse_options, run_window


def test_a_damaged_journal_at_start_up_is_said_in_a_message_box(qtbot: QtBot, batchmill_home: Path,
                                                                capsys: object) -> None:
    batchmill_home.mkdir()
    journal = batchmill_home / "journal.sqlite3"
    garbage = b"not a database\n" * 300
    journal.write_bytes(garbage)
    seen: list[str] = []

    def read_and_close() -> None:
        boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]
        if not boxes:
            QTimer.singleShot(50, read_and_close)
            return
        seen.append(boxes[0].text())
        boxes[0].grab().save(str(batchmill_home.parent / "journal-trouble-box.png"))
        boxes[0].accept()

    QTimer.singleShot(50, read_and_close)
    code = run_window(parse_options([]))

    assert code == 2
    assert len(seen) == 1 and seen[0].startswith(f"The journal {journal} is damaged"), seen
    assert "batchmill journal recover" in seen[0]
    assert journal.read_bytes() == garbage
