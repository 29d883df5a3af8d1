"""A user's script for the CPU-bound benchmark: ~50 ms of pure-Python work per file."""

from __future__ import annotations

from pathlib import Path

ROUNDS = 550_000  # about 50 ms of pure Python on this class of machine


def process(src: Path, dst: Path, rounds: int = ROUNDS) -> int:
    seed = sum(src.read_bytes()) or 1
    acc = seed
    for i in range(rounds):
        acc = (acc * 1103515245 + 12345 + i) & 0x7FFFFFFF
    dst.write_text(f"{acc}\n")
    return acc
