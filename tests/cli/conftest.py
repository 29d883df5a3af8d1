"""Fixtures shared by the CLI tests."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


@pytest.fixture
def tiny_disk_of(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """``tiny_disk_of("256k")``: a file system of that size of its own (a tmpfs), unmounted after
    the test; the test is skipped if this machine does not let it mount one."""
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        folder = tmp_path / f"tiny-disk-{len(mounted)}"
        folder.mkdir()
        made = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                              capture_output=True)
        if made.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode(errors='replace').strip()}")
        mounted.append(folder)
        return folder

    yield mount
    for folder in mounted:
        subprocess.run(["umount", str(folder)], check=True)
