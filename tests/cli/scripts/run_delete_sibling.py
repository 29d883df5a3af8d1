"""A ``python`` processor for the CLI tests that makes a file vanish after the scan.

Processing ``trigger`` deletes ``victim`` from the same folder (the test runs one worker, so
the victim, which sorts after the trigger, has been scanned but not yet processed); every file
is otherwise copied upper-cased."""

from __future__ import annotations

from pathlib import Path


def process(src: Path, dst: Path, trigger: str = "a.txt", victim: str = "b.txt") -> None:
    if src.name == trigger:
        (src.parent / victim).unlink()
    dst.write_bytes(src.read_bytes().upper())
