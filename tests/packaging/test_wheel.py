"""The wheel works, installed as a user installs it: not editable, in a fresh venv, used from a
folder outside the repository (packaging/check_wheel.py does the same steps by hand)."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "packaging"))
import check_wheel  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
VERSION = re.search(r'__version__ = "(.+)"', (REPO / "core" / "__init__.py").read_text()).group(1)  # type: ignore[union-attr]
DIST_INFO = f"batchmill-{VERSION}.dist-info"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return check_wheel.build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin folder of a fresh venv with the wheel (and its dependencies) installed."""
    python = check_wheel.make_venv(tmp_path_factory.mktemp("venv") / "venv")
    check_wheel.install(python, wheel)
    return python.parent


def test_the_wheel_holds_one_package_its_resources_and_its_license(wheel: Path) -> None:
    assert check_wheel.top_level(wheel) == {"batchmill", DIST_INFO}
    files = check_wheel.wheel_files(wheel)
    for name in ("batchmill/__init__.py", "batchmill/__main__.py", "batchmill/py.typed", "batchmill/core/api.py",
                 "batchmill/core/child_start.py", "batchmill/gui/app.py", "batchmill/resources/icons/batchmill.svg",
                 "batchmill/resources/batchmill.desktop", "batchmill/resources/LICENSE",
                 f"{DIST_INFO}/licenses/resources/LICENSE"):
        assert name in files, name
    assert not [f for f in files if "toplevel" in f or f.startswith(("core/", "gui/", "tests/"))]
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read(f"{DIST_INFO}/METADATA").decode()
        entry_points = archive.read(f"{DIST_INFO}/entry_points.txt").decode()
    assert "License-Expression: MIT" in metadata and "Classifier: Typing :: Typed" in metadata
    assert "License :: " not in metadata  # no license classifier beside an SPDX expression (PEP 639)
    assert "batchmill = batchmill.gui.launcher:program" in entry_points


def test_the_oldest_setuptools_pyproject_allows_builds_it(tmp_path: Path) -> None:
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["build-system"]["requires"]
    oldest = re.fullmatch(r"setuptools>=([\d.]+),<[\d.]+", requires[0])
    assert oldest is not None, requires
    wheel = check_wheel.build_wheel(tmp_path, setuptools=oldest.group(1))
    assert check_wheel.top_level(wheel) == {"batchmill", DIST_INFO}


def test_the_installed_wheel_from_outside_the_repository(installed: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = check_wheel.clean_env(tmp_path / "home")
    python = str(installed / "python")

    assert check_wheel.run([str(installed / "batchmill"), "--version"], outside, env).strip() == f"batchmill {VERSION}"
    where = check_wheel.run([python, "-c", "import batchmill; print(batchmill.__file__)"], outside, env)
    assert Path(where.strip()).is_relative_to(installed.parent)  # the venv's copy, not the repository
    listed = check_wheel.run([python, "-m", "batchmill", "processors"], outside, env)
    assert all(name in listed for name in ("checksum", "image", "command", "python"))

    data = check_wheel.make_data(outside)
    check_wheel.run([str(installed / "batchmill"), "run", "checksum", str(data), "--output", str(outside / "sums"),
                     "-q"], outside, env)
    verified = subprocess.run(["sha256sum", "-c", "--strict", str(outside / "sums" / data.name / "SHA256SUMS")],
                              cwd=data, capture_output=True, text=True)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.count(": OK") == 20

    check_wheel.run([str(installed / "batchmill"), "gui", str(data), "--processor", "checksum", "--output",
                     str(outside / "window"), "--start", "--exit-when-done"], outside, env)
    assert (outside / "window" / data.name / "SHA256SUMS").read_text() == \
        (outside / "sums" / data.name / "SHA256SUMS").read_text()


def test_the_installed_wheel_runs_a_function_through_the_api(installed: Path, tmp_path: Path) -> None:
    data = check_wheel.make_data(tmp_path)
    script = tmp_path / "tool.py"
    script.write_text("import sys\nimport batchmill\n"
                      "result = batchmill.run(lambda src, dst: dst.write_text(src.read_text()[::-1]), sys.argv[1],"
                      " sys.argv[2], workers=2)\nprint(result.state, result.done)\n")
    env = check_wheel.clean_env(tmp_path / "home")
    out = check_wheel.run([str(installed / "python"), str(script), str(data), str(tmp_path / "out")], tmp_path, env)
    assert out.strip() == "completed 20"
