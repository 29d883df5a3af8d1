"""The ``batchmill`` program: no arguments or ``gui`` opens the window, anything else is the CLI.

Lives in ``gui`` because only ``gui`` may import both halves; Qt itself is
imported only when the window is wanted, so the CLI starts fast."""

from __future__ import annotations

import sys
from collections.abc import Sequence

MISROUTED_EXIT = 3
BOOTSTRAP_EXIT = 2  # like any job that cannot start


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point: bootstrap first, then dispatch."""
    from batchmill.core.bootstrap import BootstrapError, bootstrap

    args = list(sys.argv[1:] if argv is None else argv)
    try:
        bootstrap()
    except BootstrapError as exc:  # e.g. BATCHMILL_PYTHON names no usable interpreter
        from batchmill.core.cli import usage_failure

        return usage_failure(str(exc), "--json" in args)  # the CLI's one exit-2 path (BOOTSTRAP_EXIT)
    return dispatch(args)


def dispatch(args: list[str]) -> int:
    """Route to the window or the CLI. Strict on purpose: a child process that reaches
    this point (a worker whose bootstrap was skipped) fails loudly instead of
    starting the app again."""
    if args and args[0].startswith("--multiprocessing"):
        print(f"batchmill: refusing to start: this is a worker process ({args[0]}) that reached the "
              "app's entry point; the entry point must call batchmill.core.bootstrap.bootstrap() first",
              file=sys.stderr)
        return MISROUTED_EXIT
    if not args or args[0] == "gui":
        from batchmill.gui.app import main as gui_main

        return gui_main(args[1:] if args else [])
    if args[0] == "run":  # its workers start first of all, and come up while the CLI is imported
        from batchmill.core import early

        early.start_for_command_line(args[1:])
    from batchmill.core.cli import main as cli_main

    try:
        return cli_main(args)
    finally:
        if args[0] == "run":
            from batchmill.core import early

            early.stop_unused()  # none left when the job ran (its pool took them); else they stop now


JOB_COMMANDS = ("run", "resume", "retry")


def program() -> None:
    """The ``batchmill`` program itself (its console script, ``python -m batchmill``): ``main``,
    then, after a command line job, an exit without the interpreter's teardown. Freeing every
    module and object of the process one by one took ~15 ms of a one-file job's ~200 (issue 14);
    the operating system frees them at once. Only when nothing is left running (no other thread,
    no child process) and after the atexit handlers ran, so nothing is cut short; standard output
    and error are flushed first. ``main`` itself, which tests and embedding hosts call, exits
    as any function returns."""
    code = main()
    if sys.argv[1:2] and sys.argv[1] in JOB_COMMANDS:
        _exit_at_once(code)
    sys.exit(code)


def _exit_at_once(code: int) -> None:
    import atexit
    import multiprocessing
    import os
    import threading

    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    if run_exit_handlers is None or threading.active_count() > 1 or multiprocessing.active_children():
        return  # the usual exit then
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed or broken pipe: the usual exit says so as it always did
        return
    run_exit_handlers()
    os._exit(code)


if __name__ == "__main__":
    program()
