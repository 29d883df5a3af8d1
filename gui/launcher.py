"""The ``batchmill`` program: no arguments or ``gui`` opens the window, anything else is the CLI.

Lives in ``gui`` because only ``gui`` may import both halves; Qt itself is
imported only when the window is wanted, so the CLI starts fast."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    from core.bootstrap import bootstrap

    bootstrap()
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] == "gui":
        from gui.app import main as gui_main

        return gui_main(args[1:] if args else [])
    from core.cli import main as cli_main

    return cli_main(args)


if __name__ == "__main__":
    sys.exit(main())
