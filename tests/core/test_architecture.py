"""``core`` never imports Qt or the GUI: import-linter says so statically, and a fresh interpreter
that imports every ``core`` module says so at run time (lazy imports included)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(120)

IMPORT_EVERY_CORE_MODULE = """
import importlib, json, pkgutil, sys
import batchmill.core
# core/toplevel is the folder of the package batchmill itself (pyproject's package-dir), not a part of core
names = [m.name for m in pkgutil.walk_packages(batchmill.core.__path__, "batchmill.core.")
         if not m.name.startswith("batchmill.core.toplevel")]
for name in names:
    importlib.import_module(name)
qt = sorted(m for m in sys.modules if m.split(".")[0] in ("PySide6", "shiboken6") or m.startswith("batchmill.gui"))
print(json.dumps({"imported": names, "qt": qt}))
"""


def test_the_contract_forbids_qt_and_gui_in_core() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    contracts = [c for c in config["contracts"] if c["type"] == "forbidden" and c["source_modules"] == ["batchmill.core"]]
    assert contracts and {"PySide6", "batchmill.gui"} <= set(contracts[0]["forbidden_modules"])


def test_import_linter_contracts_are_kept() -> None:
    # import-linter reads the package as an install lays it out (see packaging/lint_imports.py)
    result = subprocess.run([sys.executable, str(REPO / "packaging" / "lint_imports.py")], cwd=REPO,
                            capture_output=True, text=True, timeout=100)

    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"Contracts: [1-9]\d* kept, 0 broken", result.stdout), result.stdout
    assert "core never imports Qt or the GUI KEPT" in result.stdout


def test_importing_every_core_module_loads_no_qt() -> None:
    result = subprocess.run([sys.executable, "-c", IMPORT_EVERY_CORE_MODULE], cwd=REPO, capture_output=True,
                            text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"batchmill.core.engine", "batchmill.core.cli", "batchmill.core.worker", "batchmill.core.processors.python_script"} <= set(report["imported"])
    assert report["qt"] == []
