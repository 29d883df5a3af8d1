"""Workers started before the engine is imported, for a command line that runs one job.

A one-file ``batchmill run`` is mostly waiting: the main process imports the engine (~50 ms)
and only then starts its workers, each a fresh interpreter that needs ~60 ms more before it
can take a file. Started as soon as the command line is parsed, the workers come up while
the engine is imported and the job is prepared; the pool adopts them (``WorkerPool.start``)
as if it had started them itself. Workers nobody adopts are stopped by ``stop_unused``.

Kept tiny on imports: it runs before everything else.
"""

from __future__ import annotations

import multiprocessing
from typing import Any

from batchmill.core.scratch import new_scratch_root

_scratch_root: str | None = None
_handed_over = False
_waiting: dict[int, tuple[str, Any, Any, Any]] = {}  # worker id -> (start method, process, conn, slot)


def start_workers(count: int, start_method: str = "spawn") -> None:
    """Start ``count`` workers now, for the engine this process will make next."""
    global _scratch_root
    from batchmill.core.pool import spawn_worker

    context = multiprocessing.get_context(start_method)
    if _scratch_root is None:
        _scratch_root = new_scratch_root()
    for worker_id in range(1, count + 1):
        if worker_id not in _waiting:
            _waiting[worker_id] = (start_method, *spawn_worker(context, worker_id, _scratch_root))


def take_scratch_root() -> str | None:
    """The scratch folder the early workers were given, for the one engine that adopts them."""
    global _handed_over
    if _handed_over:
        return None
    _handed_over = True
    return _scratch_root


def adopt(worker_id: int, start_method: str, scratch_root: str) -> tuple[Any, Any, Any] | None:
    """(process, conn, slot) of an early worker with this id, if it suits this pool."""
    if scratch_root != _scratch_root or worker_id not in _waiting:
        return None
    method, process, conn, slot = _waiting[worker_id]
    if method != start_method or process.exitcode is not None:
        return None
    del _waiting[worker_id]
    return process, conn, slot


def stop_unused() -> None:
    """Stop the early workers no pool took (the job failed to start, or ran elsewhere)."""
    for _method, process, conn, _slot in _waiting.values():
        conn.close()  # its reader sees the pipe close and exits
        process.join(2.0)
        if process.exitcode is None:
            process.kill()
            process.join()
    _waiting.clear()
