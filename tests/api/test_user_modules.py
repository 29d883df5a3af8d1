"""A user's script with helper modules named ``core.py`` and ``gui.py`` beside it: before the rename
Batchmill's own top-level ``core`` and ``gui`` packages shadowed them. Now they are the user's,
in a new job and in its retry (only jobs journaled before the rename are translated)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api_helpers import batchmill_cli, texts

pytestmark = pytest.mark.timeout(120)

TOOL = '''
from pathlib import Path

import core
import gui
from core import shout


def process(src: Path, dst: Path) -> None:
    if src.name.startswith("bad") and Path(__file__).with_name("refuse").exists():
        raise ValueError("refused")
    dst.write_text(gui.frame(shout(src.read_text().strip())) + core.MARK)
'''


@pytest.fixture
def tool(tmp_path: Path) -> Path:
    folder = tmp_path / "tools"
    folder.mkdir()
    (folder / "core.py").write_text('MARK = " (user core)"\n\ndef shout(text):\n    return text.upper()\n')
    (folder / "gui.py").write_text('def frame(text):\n    return f"[{text}]"\n')
    (folder / "tool.py").write_text(TOOL)
    return folder / "tool.py"


def test_helpers_named_core_and_gui_beside_a_script_are_the_users(tool: Path, inputs: Path, tmp_path: Path) -> None:
    (tool.parent / "refuse").touch()
    ran = batchmill_cli("run", "python", str(inputs), "--output", str(tmp_path / "out"), "--param",
                        f"script={tool}", "--json", "-q", cwd=tmp_path)

    assert ran.returncode == 1, ran.stderr  # the two bad* files were refused
    report = json.loads(ran.stdout)
    assert (report["done"], report["failed"]) == (10, 2)
    assert {f["error"] for f in report["failures"]} == {"processor raised ValueError: refused"}
    expected = {name: f"[{text.strip().upper()}] (user core)" for name, text in texts(inputs).items()}
    assert texts(tmp_path / "out" / "in") == {n: t for n, t in expected.items() if "bad" not in n}

    (tool.parent / "refuse").unlink()
    retried = batchmill_cli("retry", report["job_id"], "--json", "-q", cwd=tmp_path)

    assert retried.returncode == 0, retried.stderr
    assert texts(tmp_path / "out" / "in") == expected
