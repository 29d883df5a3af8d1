"""The API learns of an engine that stops on an error (issue 12 item 6): ``batchmill.run`` returns
a JobResult in the error state with the engine's message — no hang, no traceback from a thread."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import batchmill
from batchmill.core.jobrun import JobRun

pytestmark = pytest.mark.timeout(60)


def test_run_returns_an_error_result_when_the_engine_stops(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        (folder / f"{i}.txt").write_text(str(i))

    def broken(self: JobRun, message: Any) -> None:
        raise KeyError("a bug in the bookkeeping")

    monkeypatch.setattr(JobRun, "on_results", broken)

    result = batchmill.run("checksum", folder, tmp_path / "out")

    assert result.state == "error"
    assert result.error == "unexpected engine error: KeyError: 'a bug in the bookkeeping'"
    assert result.exit_status == 2
