"""The one way the GUI finds its files (icons, the application icon), frozen or not.

A PyInstaller bundle unpacks data next to ``sys._MEIPASS`` (one-file) or the
executable (one-folder); a source checkout or an editable install has them in
``resources/`` beside the ``gui`` package; an installed wheel may put them
under ``<prefix>/share/batchmill``. Every lookup goes through ``asset_path``.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path

from PySide6.QtGui import QIcon

APP_ICON = "batchmill.svg"


class AssetMissing(FileNotFoundError):
    pass


def asset_roots() -> list[Path]:
    """Folders that may hold ``resources/``, most specific first."""
    roots: list[Path] = []
    if getattr(sys, "frozen", False):
        bundle = getattr(sys, "_MEIPASS", None)
        if bundle:
            roots.append(Path(bundle) / "resources")
        roots.append(Path(sys.executable).resolve().parent / "resources")
    roots.append(Path(__file__).resolve().parent.parent / "resources")
    roots.append(Path(sys.prefix) / "share" / "batchmill" / "resources")
    return roots


def asset_path(name: str) -> Path:
    """The path of a resource such as ``"icons/start.svg"``; raises AssetMissing naming where it looked."""
    for root in asset_roots():
        candidate = root / name
        if candidate.is_file():
            return candidate
    looked = ", ".join(str(r) for r in asset_roots())
    raise AssetMissing(f"resource {name!r} not found (looked in {looked})")


@lru_cache(maxsize=None)
def icon(name: str) -> QIcon:
    """An icon from ``resources/icons/<name>.svg``."""
    return QIcon(str(asset_path(f"icons/{name}.svg")))


def app_icon() -> QIcon:
    return icon(Path(APP_ICON).stem)
