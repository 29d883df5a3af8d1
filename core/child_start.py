"""The first thing a Batchmill worker process runs, in place of its parent's main module.

``multiprocessing`` (spawn) runs the parent's ``__main__`` again in every child before it
unpickles the process object; Batchmill's workers run this file instead (see
``batchmill.core.bootstrap.install_spawn_hook``), so a host's tool script runs once.

By then the child has its parent's ``sys.path``, but not always its import machinery: a
host that embeds Python and added its site folder itself, or workers started with another
interpreter than the parent's, never ran the ``.pth`` file through which an editable
install finds ``batchmill``. Then this file makes the very Batchmill it belongs to
importable, from where it lies: an installed package (``…/batchmill/core/child_start.py``)
or the source tree that pyproject's package-dir maps (``core/`` is ``batchmill.core``).

Standard library only, nothing kept in its namespace: it becomes the child's ``__main__``.
"""

from __future__ import annotations

import importlib.util as _util
import os as _os
import sys as _sys

TYPE_CHECKING = False  # not typing's: nothing more than needed is imported in every worker
if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType


def _make_batchmill_importable(here: str) -> None:
    if _util.find_spec("batchmill") is not None:
        return
    parent = _os.path.dirname(here)
    if _os.path.basename(here) == "core" and _os.path.basename(parent) == "batchmill":
        _sys.path.append(_os.path.dirname(parent))  # an installed (or laid out) package
    elif _os.path.isfile(_os.path.join(here, "toplevel", "__init__.py")):
        _sys.meta_path.append(_SourceTree(source_packages(here)))


def source_packages(core_dir: str) -> dict[str, str]:
    """The packages of the source tree and their folders, as pyproject's package-dir maps them."""
    repo = _os.path.dirname(core_dir)
    return {"batchmill": _os.path.join(core_dir, "toplevel"), "batchmill.core": core_dir,
            "batchmill.gui": _os.path.join(repo, "gui"), "batchmill.resources": _os.path.join(repo, "resources")}


class _SourceTree:
    """A finder for the packages of the source tree (their sub-packages are found the usual way)."""

    def __init__(self, packages: dict[str, str]) -> None:
        self.packages = packages

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        folder = self.packages.get(fullname)
        if folder is None:
            return None
        return _util.spec_from_file_location(fullname, _os.path.join(folder, "__init__.py"),
                                             submodule_search_locations=[folder])


if __name__ == "__mp_main__":
    _make_batchmill_importable(_os.path.dirname(_os.path.abspath(__file__)))
