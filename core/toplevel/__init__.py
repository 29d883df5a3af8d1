"""Batchmill: a batch file processor — every core on every file.

Run a function (or a processor by name) over files and folders, from a script or a host
program::

    import batchmill

    def tool(folder, out, factor):
        result = batchmill.run(lambda src, dst: dst.write_bytes(src.read_bytes() * factor),
                               folder, out, progress=lambda p: print(p.finished, "/", p.total))
        for failure in result.failures:
            print(failure.input, failure.error)

- ``run(task, inputs, output, **options) -> JobResult`` blocks; ``submit(...) -> Job`` does
  not (``job.progress``, ``job.wait()``, ``job.cancel()``, ``for file in job: …``);
  ``resume(job_id)`` and ``retry(job_id)`` continue journaled jobs. See ``batchmill.core.api``.
- ``Processor`` and ``Param`` are the base of processor plugins (entry-point group
  ``batchmill.processors``); ``ProcessorContext`` is what a task gets as ``context``.
- ``JobError``: a job that cannot start (the message says why); ``BootstrapError``: worker
  processes cannot be started here (an embedding host with no Python interpreter found:
  name one with ``BATCHMILL_PYTHON`` or ``python=``).

This folder is the top-level package ``batchmill``. The repository's top level is fixed
(``core/``, ``gui/``, ...), so pyproject maps it here: ``batchmill`` is ``core/toplevel``,
``batchmill.core`` is ``core/``, ``batchmill.gui`` is ``gui/`` and ``batchmill.resources`` is
``resources/``. Nothing else is installed at the top level of site-packages.

Importing ``batchmill`` is cheap: worker processes import it (as the parent of
``batchmill.core``) before every job, so the public names below are loaded on first use.
"""

from __future__ import annotations

from batchmill.core import __version__

# Not ``from typing import TYPE_CHECKING``: importing typing would triple the cost of ``import batchmill``.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from batchmill.core.api import FileResult, Job, JobResult, Preview, Progress, preview, resume, retry, run, submit
    from batchmill.core.bootstrap import BootstrapError
    from batchmill.core.context import ProcessorContext
    from batchmill.core.prepare import JobError
    from batchmill.core.processors.base import Param, ParamError, Processor

# name -> module that defines it; loaded on first use (PEP 562)
_PUBLIC = {
    "run": "batchmill.core.api",
    "submit": "batchmill.core.api",
    "resume": "batchmill.core.api",
    "retry": "batchmill.core.api",
    "Job": "batchmill.core.api",
    "JobResult": "batchmill.core.api",
    "FileResult": "batchmill.core.api",
    "Progress": "batchmill.core.api",
    "preview": "batchmill.core.api",
    "Preview": "batchmill.core.api",
    "JobError": "batchmill.core.prepare",
    "BootstrapError": "batchmill.core.bootstrap",
    "Processor": "batchmill.core.processors.base",
    "Param": "batchmill.core.processors.base",
    "ParamError": "batchmill.core.processors.base",
    "ProcessorContext": "batchmill.core.context",
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
