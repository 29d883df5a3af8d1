"""Where the journal, settings, presets and scratch live: all in BATCHMILL_HOME when it is set,
else each in the platform's place for its kind (platformdirs), moved there once from the data
folder where Batchmill before 0.3 kept them all."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from batchmill.core.journal import Journal
from batchmill.core.scratch import scratch_base
from batchmill.core.paths import places

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG folders decide on Linux")


@pytest.fixture
def xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.delenv("BATCHMILL_HOME")
    for kind in ("DATA", "STATE", "CONFIG"):
        monkeypatch.setenv(f"XDG_{kind}_HOME", str(tmp_path / kind.lower()))
    return tmp_path


def test_batchmill_home_holds_everything(batchmill_home: Path) -> None:
    found = places()
    assert (found.journal, found.settings, found.presets, found.home) == (
        batchmill_home / "journal.sqlite3", batchmill_home / "settings.ini", batchmill_home / "presets",
        batchmill_home)
    assert found.scratch == scratch_base()  # the user's own, private (tests/core/test_scratch.py)


def test_without_it_each_kind_has_its_platform_place(xdg: Path) -> None:
    found = places()
    assert found.journal == xdg / "state" / "batchmill" / "journal.sqlite3"
    assert found.settings == xdg / "config" / "batchmill" / "settings.ini"
    assert found.presets == xdg / "config" / "batchmill" / "presets"
    assert found.home is None
    journal = Journal()
    assert journal.path == found.journal and journal.path.is_file()
    journal.close()


def test_an_old_data_folder_is_moved_once(xdg: Path) -> None:
    old = xdg / "data" / "batchmill"
    (old / "presets").mkdir(parents=True)
    db = sqlite3.connect(old / "journal.sqlite3")
    db.execute("CREATE TABLE marker (x)")
    db.close()
    (old / "settings.ini").write_text("[job]\noutput=/somewhere\n")
    (old / "presets" / "web.json").write_text("{}")

    found = places()

    assert not (old / "journal.sqlite3").exists() and not (old / "settings.ini").exists()
    assert sqlite3.connect(found.journal).execute("SELECT name FROM sqlite_master").fetchall() == [("marker",)]
    assert found.settings.read_text() == "[job]\noutput=/somewhere\n"
    assert (found.presets / "web.json").read_text() == "{}"
    assert places() == found


def test_a_journal_open_elsewhere_is_used_where_it_is(xdg: Path) -> None:
    old = xdg / "data" / "batchmill"
    old.mkdir(parents=True)
    writer = sqlite3.connect(old / "journal.sqlite3")
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("CREATE TABLE marker (x)")  # the -wal file exists while this connection is open

    assert places().journal == old / "journal.sqlite3"
    writer.close()
    assert places().journal == xdg / "state" / "batchmill" / "journal.sqlite3"


def test_batchmill_paths_prints_them(xdg: Path) -> None:
    command = [sys.executable, "-m", "batchmill.gui.launcher", "paths"]
    shown = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    found = places()
    assert shown.stdout.splitlines() == [f"journal   {found.journal}", f"settings  {found.settings}",
                                         f"presets   {found.presets}", f"scratch   {found.scratch}"]
    as_json = json.loads(subprocess.run([*command, "--json"], capture_output=True, text=True, timeout=60).stdout)
    assert as_json["journal"] == str(found.journal)
    one = subprocess.run([*command, "journal"], capture_output=True, text=True, timeout=60)
    assert one.stdout == f"{found.journal}\n"
