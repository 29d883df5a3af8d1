"""The workers' scratch space: the user's own, private, never a folder another user made.

Each Batchmill process gets one scratch folder (``PID-START-random``, see
``batchmill.core.liveness``) holding a folder per worker; they live in ``scratch/`` of the
user's cache folder (``$XDG_CACHE_HOME/batchmill/scratch``, else ``~/.cache/batchmill/scratch``
on Linux; the platform's per-user cache folder elsewhere), made 0700. A shared
``/tmp/batchmill-scratch`` made 0755 by the first user left every other user with a
``PermissionError``.

A scratch place that is not the user's own (owned by someone else, a symbolic link, not a
folder) is never used: that process gets a private folder of its own from ``mkdtemp`` in the
temporary folder instead. Kept light on imports: it runs before the engine is imported
(``batchmill.core.early``).
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from pathlib import Path

from batchmill.core.liveness import scratch_prefix

APP = "batchmill"
PRIVATE = 0o700


def scratch_base() -> Path:
    """The folder that holds this user's scratch folders (not made here)."""
    if os.name == "posix" and sys.platform != "darwin":  # platformdirs' rule, without its import
        cache = os.environ.get("XDG_CACHE_HOME", "").strip() or os.path.expanduser("~/.cache")
        return Path(cache) / APP / "scratch"
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP, appauthor=False)) / "scratch"


def private_base() -> Path | None:
    """``scratch_base()``, made if need be and private; None if it is not this user's own."""
    base = scratch_base()
    try:
        base.mkdir(mode=PRIVATE, parents=True, exist_ok=True)
        st = os.lstat(base)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode):  # a symbolic link (lstat) or a file in its place
        return None
    getuid = getattr(os, "getuid", None)
    if getuid is not None:
        if st.st_uid != getuid():
            return None
        if stat.S_IMODE(st.st_mode) != PRIVATE:
            try:
                os.chmod(base, PRIVATE)
            except OSError:
                return None
    return base


def new_scratch_root() -> str:
    """A new private scratch folder for this process (mkdtemp makes it 0700)."""
    base = private_base()
    if base is None:
        return tempfile.mkdtemp(prefix=f"{APP}-scratch-{scratch_prefix()}")
    return tempfile.mkdtemp(prefix=scratch_prefix(), dir=base)
