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


if __name__ == "__main__":
    sys.exit(main())
