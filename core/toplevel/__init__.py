"""Batchmill: a batch file processor — every core on every file.

This folder is the top-level package ``batchmill``. The repository's top level is fixed
(``core/``, ``gui/``, ...), so pyproject maps it here: ``batchmill`` is ``core/toplevel``,
``batchmill.core`` is ``core/``, ``batchmill.gui`` is ``gui/`` and ``batchmill.resources`` is
``resources/``. Nothing else is installed at the top level of site-packages.

Importing ``batchmill`` is cheap: worker processes import it (as the parent of
``batchmill.core``) before every job, so the public names below are loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from batchmill.core import __version__

if TYPE_CHECKING:
    from batchmill.core.processors.base import Param, ParamError, Processor

# name -> module that defines it; loaded on first use (PEP 562)
_PUBLIC = {
    "Processor": "batchmill.core.processors.base",
    "Param": "batchmill.core.processors.base",
    "ParamError": "batchmill.core.processors.base",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'batchmill' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
