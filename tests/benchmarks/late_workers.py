"""``batchmill`` with its workers started the old way, after the engine is imported (no early
start, the program's exit as it is): the peer that shows what starting them early saves
(bench_fixed_cost.py)."""

from __future__ import annotations

import batchmill.core.early

batchmill.core.early.start_workers = lambda *args, **kwargs: None  # type: ignore[assignment]

from batchmill.gui.launcher import program  # noqa: E402

program()
