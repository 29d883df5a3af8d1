"""A processor whose output is a folder of files (dst made a directory)."""

from pathlib import Path


def process(src: Path, dst: Path) -> None:
    dst.mkdir()
    (dst / "part1.txt").write_bytes(src.read_bytes())
