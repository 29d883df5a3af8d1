"""The one way the GUI finds its files (icons, the application icon), frozen or not.

They are package data of ``batchmill.resources`` (the repository's ``resources/`` folder),
read with ``importlib.resources``: the same lookup serves a wheel, an editable install and
the frozen bundle (PyInstaller collects them as ``batchmill/resources``).
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files
from pathlib import Path

from PySide6.QtGui import QIcon

APP_ICON = "batchmill.svg"
PACKAGE = "batchmill.resources"


class AssetMissing(FileNotFoundError):
    pass


def resources_root() -> Path:
    """The folder holding the package's resources. Qt reads files by path, and every way
    Batchmill is installed (wheel, editable, frozen) keeps package data as real files."""
    return Path(str(files(PACKAGE)))


def asset_path(name: str) -> Path:
    """The path of a resource such as ``"icons/start.svg"``; raises AssetMissing naming where it looked."""
    candidate = resources_root() / name
    if candidate.is_file():
        return candidate
    raise AssetMissing(f"resource {name!r} not found (looked in {resources_root()}, the package {PACKAGE})")


@lru_cache(maxsize=None)
def icon(name: str) -> QIcon:
    """An icon from ``resources/icons/<name>.svg``."""
    return QIcon(str(asset_path(f"icons/{name}.svg")))


def app_icon() -> QIcon:
    return icon(Path(APP_ICON).stem)
