"""Check the import contracts of pyproject.toml (``core`` never imports Qt or ``gui``).

    python packaging/lint_imports.py

import-linter analyses a package by walking its folder, and ``batchmill`` is assembled from
several folders by pyproject's package-dir mapping; so the package is laid out as an install
would (packaging/build.py) in a temporary folder, and import-linter reads it from there."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build import REPO, lay_out_package  # noqa: E402


def main() -> int:
    beside = Path(sys.executable).with_name("lint-imports")
    program = str(beside) if beside.exists() else shutil.which("lint-imports")
    if program is None:
        print("lint-imports (import-linter) is not installed; it is in the test extra", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="batchmill-lint-") as folder:
        root = lay_out_package(Path(folder) / "package-root")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
        return subprocess.run([program, "--no-cache", *sys.argv[1:]], cwd=REPO, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
