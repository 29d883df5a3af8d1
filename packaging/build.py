"""Build the frozen Batchmill with PyInstaller.

    python packaging/build.py              one-dir bundle: dist/batchmill/batchmill(.exe)
    python packaging/build.py --onefile    one file: dist/batchmill(.exe)

Prints the build time and the bundle size."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# The import package as pyproject maps it from the repository's folders (package-dir):
# PyInstaller's analysis follows sys.path, so it is given the package laid out as installed.
PACKAGE_DIRS = {"batchmill": "core/toplevel", "batchmill/core": "core", "batchmill/gui": "gui",
                "batchmill/resources": "resources"}
NOT_PACKAGED = ("__pycache__", "*.pyc", "toplevel", "screenshots")


def lay_out_package(root: Path | None = None) -> Path:
    """Copy the sources into ``root/batchmill/…`` as an install would lay them out; returns
    ``root``, the folder to put on the analysis's path."""
    root = root or REPO / "build" / "package-root"
    shutil.rmtree(root, ignore_errors=True)
    for target, source in PACKAGE_DIRS.items():
        shutil.copytree(REPO / source, root / target, ignore=shutil.ignore_patterns(*NOT_PACKAGED),
                        dirs_exist_ok=True)
    return root


def bundle_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def build(onefile: bool = False, entry: Path | None = None, name: str = "batchmill",
          dist: Path | None = None) -> Path:
    dist = dist or REPO / "dist"
    env = {**os.environ, "BATCHMILL_ONEFILE": "1" if onefile else "0", "BATCHMILL_NAME": name}
    if entry is not None:
        env["BATCHMILL_ENTRY"] = str(entry)
    work = REPO / "build" / ("onefile" if onefile else "onedir") / name
    cmd = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
           "--distpath", str(dist), "--workpath", str(work), str(REPO / "packaging" / "batchmill.spec")]
    subprocess.run(cmd, check=True, env=env, cwd=REPO)
    exe = name + (".exe" if sys.platform == "win32" else "")
    return dist / exe if onefile else dist / name / exe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--onefile", action="store_true")
    args = parser.parse_args()
    start = time.perf_counter()
    program = build(onefile=args.onefile)
    seconds = time.perf_counter() - start
    size = bundle_size(program if args.onefile else program.parent)
    print(f"built {program} in {seconds:.0f} s; bundle size {size / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
