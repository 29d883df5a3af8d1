"""Where Batchmill keeps its files: the journal, the window's settings, presets, scratch space.

``BATCHMILL_HOME`` (or the API's ``home=``) puts the journal, settings and presets in that one
folder, as tests and portable set-ups want. Otherwise each goes where the platform keeps its
kind (platformdirs): the journal is state (``~/.local/state/batchmill`` on Linux), the window's
settings and the presets are configuration (``~/.config/batchmill``, ``…/presets``); on Windows
and macOS these are the usual per-user application folders. Workers' scratch folders are in
the user's cache folder, private to the user (batchmill.core.scratch).

Batchmill before 0.3 kept all three in the data folder (``~/.local/share/batchmill``); they are
moved to their places the first time they are looked for (``batchmill paths`` shows them). A
journal another Batchmill may still have open (its ``-wal`` file is there) is not moved then,
and is used where it is.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from batchmill.core.scratch import scratch_base

APP = "batchmill"
JOURNAL_NAME = "journal.sqlite3"
SETTINGS_NAME = "settings.ini"
PRESETS_NAME = "presets"


@dataclass(frozen=True)
class Places:
    journal: Path  # the journal's file
    settings: Path  # the window's settings file
    presets: Path  # the folder of presets, one JSON file each (beside the settings: the window finds them so)
    scratch: Path  # the folder of the workers' scratch folders
    home: Path | None  # BATCHMILL_HOME (or home=) when it decides, else None

    def as_dict(self) -> dict[str, str]:
        return {"journal": str(self.journal), "settings": str(self.settings), "presets": str(self.presets),
                "scratch": str(self.scratch), "home": "" if self.home is None else str(self.home)}


def env_home() -> Path | None:
    """The folder ``BATCHMILL_HOME`` names, if it is set."""
    env = os.environ.get("BATCHMILL_HOME")
    return Path(env).expanduser() if env else None


def places(home: Path | None = None) -> Places:
    """Where everything is, for ``home`` (default: BATCHMILL_HOME, else the platform's folders)."""
    home = home if home is not None else env_home()
    scratch = scratch_base()  # the user's own, private (batchmill.core.scratch)
    if home is not None:
        return Places(home / JOURNAL_NAME, home / SETTINGS_NAME, home / PRESETS_NAME, scratch, home)
    import platformdirs  # only when no home is given: it is not needed by a worker or a test

    data = Path(platformdirs.user_data_dir(APP, appauthor=False))
    state = Path(platformdirs.user_state_dir(APP, appauthor=False))
    config = Path(platformdirs.user_config_dir(APP, appauthor=False))
    journal = _moved(data / JOURNAL_NAME, state / JOURNAL_NAME, companions=("-wal", "-shm"))
    settings = _moved(data / SETTINGS_NAME, config / SETTINGS_NAME, companions=())
    presets = _moved(data / PRESETS_NAME, config / PRESETS_NAME, companions=())
    return Places(journal, settings, presets, scratch, None)


def _moved(old: Path, new: Path, companions: tuple[str, ...]) -> Path:
    """``new``, after moving a file from where an older Batchmill kept it (once); ``old`` when it
    cannot be moved now (another process may have the journal open)."""
    if old == new or new.exists() or not old.exists():
        return new
    if any(Path(f"{old}{suffix}").exists() for suffix in companions):
        return old  # open elsewhere, or left by a crash: SQLite must see it beside its WAL
    try:
        new.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(old), str(new))
    except OSError:
        return old if old.exists() else new
    return new
