"""Workers started before the engine is imported, for a command line that runs one job.

A one-file ``batchmill run`` is mostly waiting: the main process imports the CLI and the engine
(~90 ms) and only then could start its workers, each a fresh interpreter that needs ~60 ms more
before it can take a file. So ``batchmill run`` starts them first of all, as soon as the
program starts (``start_for_command_line``, from the launcher, before the CLI is imported):
they come up on the other cores while the main process imports the engine and prepares the
job, and the pool adopts them (``WorkerPool.start``) as if it had started them itself. Workers
nobody adopts are stopped by ``stop_unused``.

Kept tiny on imports (none at the top but the standard library's ``os``): it runs before
everything else, and a worker imports it to find its entry point. Starting a worker needs
nothing of the worker's own code in this process (``worker_entry`` imports it in the child).
"""

from __future__ import annotations

import os
from typing import Any

# The worker's shared slot (a RawArray of two doubles): the file it runs (-1: none) and since when.
SLOT_FILE, SLOT_STARTED = 0, 1

_scratch_root: str | None = None
_handed_over = False
_waiting: dict[int, tuple[str, Any, Any, Any]] = {}  # worker id -> (start method, process, conn, slot)

# Options after which ``run``'s worker count cannot be read from the command line alone: a preset
# may set it, a dry run starts none, another backend runs elsewhere. A prefix counts (argparse's).
_NOT_KNOWN_HERE = ("--preset", "--save-preset", "--backend", "--scheduler", "--dry-run", "--help")


def default_workers() -> int:
    """One core is left for the window and the engine thread; never fewer than one worker."""
    return max(1, (os.cpu_count() or 1) - 1)


def workers_for_command_line(argv: list[str]) -> int | None:
    """How many workers ``batchmill run ARGV`` will run on, read without argparse (so before the
    CLI is imported), or None when that cannot be told so (see _NOT_KNOWN_HERE). A wrong guess
    costs time, never correctness: the CLI starts what is missing and stops what is left over."""
    count: int | None = None
    tokens = iter(argv)
    for token in tokens:
        if token == "--":
            break
        if token.startswith("--"):
            name, equals, value = token.partition("=")
            if len(name) > 2 and any(option.startswith(name) for option in _NOT_KNOWN_HERE):
                return None
            if len(name) > 2 and "--workers".startswith(name):
                count = _count(value if equals else next(tokens, ""))
        elif token.startswith("-") and len(token) > 1:
            if token.startswith("-j"):
                count = _count(token[2:] or next(tokens, ""))
            elif token[1] in "po":  # --param, --output: the rest is their value
                continue
            elif "n" in token or "h" in token:  # -n (--dry-run), -h, maybe among other flags (-0n)
                return None
    if count is None:
        return default_workers()
    return count if count > 0 else None


def _count(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


def start_for_command_line(argv: list[str]) -> None:
    """``batchmill run ARGV``: start its workers now, if their number can be read from ``argv``."""
    count = workers_for_command_line(argv)
    if count is not None:
        start_workers(count)


def start_workers(count: int, start_method: str = "spawn") -> None:
    """Start ``count`` workers now (those not started yet), for the engine this process will make next."""
    global _scratch_root
    import multiprocessing

    from batchmill.core.scratch import new_scratch_root

    context = multiprocessing.get_context(start_method)
    if _scratch_root is None:
        _scratch_root = new_scratch_root()
    for worker_id in range(1, count + 1):
        if worker_id not in _waiting:
            _waiting[worker_id] = (start_method, *spawn_worker(context, worker_id, _scratch_root))


def spawn_worker(context: Any, worker_id: int, scratch_root: str) -> tuple[Any, Any, Any]:
    """Start one worker process: (process, the engine's end of its pipe, its shared slot)."""
    import ctypes

    from batchmill.core.bootstrap import WORKER_NAME_PREFIX, install_spawn_hook

    parent_conn, child_conn = context.Pipe(duplex=True)
    slot = context.RawArray(ctypes.c_double, 2)
    slot[SLOT_FILE] = -1
    install_spawn_hook()  # workers never re-run the parent's main module, whoever started us
    process = context.Process(target=worker_entry, args=(worker_id, child_conn, slot, scratch_root),
                              name=f"{WORKER_NAME_PREFIX}{worker_id}", daemon=True)
    process.start()
    child_conn.close()
    return process, parent_conn, slot


def worker_entry(worker_id: int, conn: Any, slot: Any, scratch_root: str) -> None:
    """What a worker process runs (by reference to this light module, so the process that starts
    it never imports the worker's code)."""
    from batchmill.core.worker import worker_main

    worker_main(worker_id, conn, slot, scratch_root)


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
