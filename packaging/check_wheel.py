"""Build the wheel, install it (not editable) into a fresh venv, and use it from outside the repository.

    python packaging/check_wheel.py [WORK_FOLDER]

What an operator's ``pip install batchmill`` gets: the wheel's top level holds only
``batchmill`` and its dist-info; from a folder outside the repository ``batchmill --version``,
``python -m batchmill processors``, ``batchmill run checksum`` (verified with ``sha256sum -c``)
and the window, offscreen, with ``--start --exit-when-done``, all work. tests/packaging/test_wheel.py
runs the same steps (so CI does); this script is for doing it by hand.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# What a build reads: pyproject's package-dir folders, the readme and the license.
SOURCES = ("pyproject.toml", "README.md", "core", "gui", "resources")
TIMEOUT_S = 600


def copy_sources(folder: Path) -> Path:
    """The files a wheel is built from, copied (a build writes build/ and *.egg-info beside them)."""
    for name in SOURCES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, folder / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, folder / name)
    return folder


def build_wheel(dest: Path, setuptools: str | None = None) -> Path:
    """Build the wheel into ``dest`` in an isolated build environment, with the newest setuptools
    pyproject allows, or exactly ``setuptools`` (a version) to try one end of the range."""
    with tempfile.TemporaryDirectory(prefix="batchmill-src-") as folder:
        source = copy_sources(Path(folder))
        env = dict(os.environ)
        if setuptools is not None:
            constraints = Path(folder) / "build-constraints.txt"
            constraints.write_text(f"setuptools=={setuptools}\n")
            env["PIP_CONSTRAINT"] = str(constraints)  # reaches the build environment's own pip
        run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(dest), str(source)],
            env=env)
    wheels = sorted(dest.glob("batchmill-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def top_level(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return {name.split("/", 1)[0] for name in archive.namelist()}


def wheel_files(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def make_venv(folder: Path) -> Path:
    """A fresh venv of the base interpreter (no packages of the one running this); its python."""
    run([sys.executable, "-m", "venv", str(folder)])
    return folder / "bin" / "python"


def install(python: Path, wheel: Path) -> None:
    run([str(python), "-m", "pip", "install", "--quiet", str(wheel)])


def clean_env(home: Path) -> dict[str, str]:
    """No trace of the repository or of the venv running this: only the installed wheel."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    return {**env, "BATCHMILL_HOME": str(home), "QT_QPA_PLATFORM": "offscreen"}


def run(command: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def make_data(folder: Path) -> Path:
    data = folder / "survey 2026"
    (data / "sub").mkdir(parents=True)
    for n in range(20):
        (data / ("sub" if n % 3 == 0 else "") / f"tile {n:02d}.txt").write_text(f"tile {n}\n" * n)
    return data


def main() -> int:
    work = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="batchmill-wheel-"))
    work.mkdir(parents=True, exist_ok=True)
    wheel = build_wheel(work / "wheel")
    print(f"built {wheel.name}; top level: {sorted(top_level(wheel))}")
    python = make_venv(work / "venv")
    install(python, wheel)
    bin_dir = python.parent
    outside = work / "elsewhere"
    outside.mkdir(exist_ok=True)
    env = clean_env(work / "home")
    data = make_data(outside)
    print(run([str(bin_dir / "batchmill"), "--version"], outside, env).strip())
    print(run([str(python), "-m", "batchmill", "processors"], outside, env).splitlines()[0])
    run([str(bin_dir / "batchmill"), "run", "checksum", str(data), "--output", str(outside / "sums"), "-q"],
        outside, env)
    print(run(["sha256sum", "-c", "--strict", str(outside / "sums" / data.name / "SHA256SUMS")], data).count(": OK"),
          "files verified")
    run([str(bin_dir / "batchmill"), "gui", str(data), "--processor", "checksum", "--output",
         str(outside / "window"), "--start", "--exit-when-done"], outside, env)
    print("the window ran the job and exited 0; all in", work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
