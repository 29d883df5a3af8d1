"""``batchmill journal ACTION``: commands about the journal itself (check, recover).

Exit status: 0 the journal is sound (check) or was recovered (recover); 1 check found damage;
2 the command could not do its work (with a message naming the file)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

EXIT_OK, EXIT_DAMAGED, EXIT_USAGE = 0, 1, 2


def add_journal_parser(sub: Any) -> None:
    """The ``journal`` sub-command, on the CLI's sub-parsers."""
    journal = sub.add_parser("journal", help="check the journal, or recover a damaged one",
                             description="check: SQLite's integrity check, changing nothing. recover: copy what "
                                         "can be read of a damaged journal into a new one; the damaged file is "
                                         "moved aside beside it, never deleted.")
    journal.add_argument("action", choices=sorted(ACTIONS), help="what to do")
    journal.add_argument("--json", action="store_true", help="print one JSON object")


def cmd_journal(args: argparse.Namespace) -> int:
    return ACTIONS[args.action](args)


def journal_path() -> Any:
    from batchmill.core.journal import default_home

    return default_home() / "journal.sqlite3"


def cmd_check(args: argparse.Namespace) -> int:
    from batchmill.core.journal_repair import check_journal

    report = check_journal(journal_path())
    if args.json:
        print(json.dumps({"path": str(report.path), "exists": report.exists, "sound": report.sound,
                          "problems": list(report.problems), "jobs": report.jobs}))
    elif not report.exists:
        print(f"no journal yet at {report.path}")
    elif report.sound:
        print(f"the journal {report.path} is sound ({report.jobs} jobs)")
    else:
        print(f"the journal {report.path} is damaged:", file=sys.stderr)
        for problem in report.problems:
            print(f"  {problem}", file=sys.stderr)
        print("run `batchmill journal recover` to keep what can be kept (the damaged file is moved aside)",
              file=sys.stderr)
    return EXIT_OK if report.sound else EXIT_DAMAGED


def cmd_recover(args: argparse.Namespace) -> int:
    from batchmill.core.journal import Journal
    from batchmill.core.journal_repair import recover_journal

    path = journal_path()
    try:
        report = recover_journal(path)
    except OSError as exc:
        print(f"batchmill: error: cannot recover the journal {path}: {exc}; nothing was moved or deleted",
              file=sys.stderr)
        return EXIT_USAGE
    if report.damaged_copy is not None:
        Journal(path.parent).close()  # what recovery could not bring back of the schema (index, view) is made again
    if args.json:
        print(json.dumps({"path": str(report.path), "recovered": report.damaged_copy is not None,
                          "damaged_copy": None if report.damaged_copy is None else str(report.damaged_copy),
                          "method": report.method, "rows": report.rows}))
    elif report.damaged_copy is None:
        print(f"the journal {path} is sound; nothing to recover")
    else:
        kept = ", ".join(f"{count} {table.replace('_', ' ')}" for table, count in report.rows.items())
        print(f"recovered the journal {path} ({report.method}): kept {kept or 'nothing'}")
        print(f"the damaged file is kept as {report.damaged_copy}")
    return EXIT_OK


ACTIONS: dict[str, Callable[[argparse.Namespace], int]] = {"check": cmd_check, "recover": cmd_recover}
