"""A processor that makes its output a folder of files, then fails."""

from pathlib import Path


def process(src: Path, dst: Path) -> None:
    dst.mkdir()
    (dst / "part1.txt").write_bytes(src.read_bytes())
    raise RuntimeError("gave up half way")
