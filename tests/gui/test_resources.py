"""Icons load through the one helper, in a source tree and in a frozen bundle."""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path

import pytest
from PySide6.QtCore import QSize
from pytestqt.qtbot import QtBot

from batchmill.gui import resources
from batchmill.gui.resources import AssetMissing, asset_path, icon

GUI = Path(resources.__file__).resolve().parent


def icon_names_used() -> set[str]:
    names: set[str] = set()
    for module in GUI.glob("*.py"):
        names |= set(re.findall(r'\bicon\("([a-z-]+)"', module.read_text(encoding="utf-8")))
    return names


def test_every_icon_the_window_uses_exists_and_renders(qtbot: QtBot) -> None:
    names = icon_names_used()
    assert {"start", "pause", "resume", "cancel", "retry", "remove", "folder-open"} <= names
    shipped = {p.stem for p in asset_path("icons/batchmill.svg").parent.glob("*.svg")}
    for name in names | shipped:
        assert asset_path(f"icons/{name}.svg").is_file()
        image = icon(name).pixmap(QSize(32, 32)).toImage()
        assert not image.isNull(), name
        painted = sum(1 for x in range(32) for y in range(32) if image.pixelColor(x, y).alpha() > 0)
        assert painted > 32 * 32 // 10, f"icon {name} renders (almost) empty"


def test_resources_are_package_data_of_batchmill_resources() -> None:
    # The same lookup serves a wheel, an editable install and the frozen bundle; the wheel and
    # the bundle are checked from the outside in tests/packaging.
    root = Path(str(files("batchmill.resources")))
    assert asset_path("icons/start.svg") == root / "icons" / "start.svg"
    assert (root / "batchmill.desktop").is_file()


def test_a_missing_resource_names_where_it_looked() -> None:
    with pytest.raises(AssetMissing, match=r"resource 'icons/nope.svg' not found \(looked in .*resources"):
        asset_path("icons/nope.svg")
