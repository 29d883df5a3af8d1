"""Which interpreter workers run, and a worker that has none of its parent's import hooks.

An embedding host's ``sys.executable`` is the host program: Batchmill finds a real
interpreter, or says how to name one (``BATCHMILL_PYTHON``, ``python=``). A worker started
with another interpreter than its parent's (the base Python under a venv, as from a host)
still imports the very Batchmill its parent runs, editable install or not.
"""

from __future__ import annotations

import os
import sys
import tomllib
from multiprocessing import spawn
from pathlib import Path

import pytest

import batchmill
from batchmill.core import bootstrap as boot
from batchmill.core import child_start

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("restore_spawn_executable")]


def base_interpreter() -> Path:
    """The Python this test's venv was made from: it has no .pth of the venv, so no editable finder."""
    found = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    assert found.is_file(), found
    return found


def where_am_i(src: Path, dst: Path) -> dict[str, object]:
    import batchmill.core as core_package

    dst.write_text("x")
    return {"executable": sys.executable, "core": core_package.__file__,
            "finders": [type(finder).__name__ for finder in sys.meta_path]}


def test_workers_run_the_named_python_and_import_this_batchmill(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("a")
    python = base_interpreter()

    result = batchmill.run(where_am_i, tmp_path / "in", tmp_path / "out", workers=1, python=python)

    assert result.ok, result.error or result.failures
    seen = result.values()[tmp_path / "in" / "a.txt"]
    assert seen["executable"] == str(python)
    assert seen["core"] == batchmill.core.__file__  # the same files, not some other install
    if "site-packages" not in batchmill.core.__file__:  # an editable install: found by child_start.py
        assert "_SourceTree" in seen["finders"]


def test_batchmill_python_names_the_interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(boot.PYTHON_ENV, str(base_interpreter()))
    boot.bootstrap()
    assert boot.workers_executable() == str(base_interpreter())


@pytest.mark.parametrize("named, message", [
    ("/no/such/python", "which is not an executable file"),
    ("/bin/sh", "which is a program that failed"),
])
def test_a_wrong_interpreter_is_refused_with_what_named_it(named: str, message: str, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(boot.PYTHON_ENV, named)
    with pytest.raises(boot.BootstrapError, match=message) as raised:
        batchmill.run(lambda src, dst: None, tmp_path, tmp_path / "out")
    assert boot.PYTHON_ENV in str(raised.value)
    with pytest.raises(boot.BootstrapError, match="python="):
        batchmill.run(lambda src, dst: None, tmp_path, tmp_path / "out", python=named)


def test_an_embedded_interpreter_with_no_python_beside_it_says_how_to_name_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What ArcMap.exe looks like to Python: its own program, and a prefix with no interpreter."""
    empty = tmp_path / "host"
    empty.mkdir()
    monkeypatch.setattr(sys, "executable", str(empty / "ArcMap.exe"))
    for name in ("prefix", "exec_prefix", "base_exec_prefix"):
        monkeypatch.setattr(sys, name, str(empty))
    monkeypatch.delenv(boot.PYTHON_ENV, raising=False)

    with pytest.raises(boot.BootstrapError) as raised:
        boot.bootstrap()
    assert "is not a Python interpreter, and none was found" in str(raised.value)
    assert boot.PYTHON_ENV in str(raised.value) and "python=" in str(raised.value)

    monkeypatch.setenv(boot.PYTHON_ENV, str(base_interpreter()))
    boot.bootstrap()
    assert boot.workers_executable() == str(base_interpreter())


def test_child_start_maps_the_packages_as_pyproject_does() -> None:
    """The source-tree finder of child_start.py and pyproject's package-dir must agree."""
    package_dir = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    mapped = child_start.source_packages(str(REPO / "core"))
    assert {name: os.path.relpath(folder, REPO) for name, folder in mapped.items()} == package_dir


def test_the_spawn_hook_is_installed_once_and_spares_other_processes() -> None:
    boot.install_spawn_hook()
    hooked = spawn.get_preparation_data
    boot.install_spawn_hook()
    assert spawn.get_preparation_data is hooked
    ours = hooked(f"{boot.WORKER_NAME_PREFIX}1")
    theirs = hooked("SomeoneElsesProcess-1")
    assert ours["init_main_from_path"] == str(boot.START_FILE) and "init_main_from_name" not in ours
    assert theirs.get("init_main_from_path") != str(boot.START_FILE)


def test_the_command_line_with_a_wrong_batchmill_python_exits_2_with_the_reason(tmp_path: Path) -> None:
    from api_helpers import batchmill_cli

    ran = batchmill_cli("run", "checksum", str(tmp_path), "--output", str(tmp_path / "out"), cwd=tmp_path,
                        env={**os.environ, boot.PYTHON_ENV: "/no/such/python"})
    assert ran.returncode == 2
    assert "batchmill: error: BATCHMILL_PYTHON names /no/such/python, which is not an executable file" in ran.stderr
    assert "Traceback" not in ran.stderr
