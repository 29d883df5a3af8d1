"""A processor whose files wait for each other, so a test can tell how files were spread over
the workers without timing anything.

Each input's text says what it waits for before it ends:

- ``started N``: until N files of the job have started (with N up to the workers, they all run
  at once: every worker got one);
- ``done A B ...``: until the files named A, B ... have finished (they ran elsewhere);
- nothing: it ends at once.

It gives up after MEET_WAIT_S and returns ``met: False``, so a wrong dispatch fails the test
instead of hanging it. Markers ``<name>.started`` / ``<name>.done`` go to ``marker_dir``.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

import batchmill.core.processors
from batchmill.core.context import ProcessorContext
from batchmill.core.processors.base import Param, Processor

MEET_WAIT_S = 15.0
POLL_S = 0.01


def meet(src: Path, dst: Path | None, context: ProcessorContext, marker_dir: str = "") -> dict[str, Any]:
    markers = Path(marker_dir)
    (markers / f"{src.name}.started").touch()
    words = src.read_text().split()
    deadline = time.monotonic() + MEET_WAIT_S
    met = True
    while words and not _satisfied(words, markers):
        if time.monotonic() > deadline:
            met = False
            break
        time.sleep(POLL_S)
    (markers / f"{src.name}.done").touch()
    return {"pid": os.getpid(), "met": met}


def _satisfied(words: list[str], markers: Path) -> bool:
    if words[0] == "started":
        return sum(1 for _ in markers.glob("*.started")) >= int(words[1])
    return all((markers / f"{name}.done").exists() for name in words[1:])


class MeetProcessor(Processor):
    name = "test-meet"
    description = "test processor: files that wait for each other"
    params = (Param("marker_dir", str, "", (), "folder for the marker files"),)

    def task(self, params: Mapping[str, Any]) -> functools.partial[Any]:
        return functools.partial(meet, marker_dir=params["marker_dir"])

    def output_name(self, params: Mapping[str, Any], name: str) -> str | None:
        return None


def register(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the processor available by name, as an installed plug-in would be."""
    monkeypatch.setattr(batchmill.core.processors, "_plugins", lambda: ([MeetProcessor()], []))
