"""Issue 12, item 5: any name a file system allows ends up in a manifest that ``sha256sum -c``
verifies. One invalid-UTF-8 name used to lose the whole manifest ("the final step of 'checksum'
failed: 'utf-8' codec can't encode … surrogates not allowed", exit 2, no file named)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(120)

# Raw names as the file system holds them: not every one of them is text.
ODD_NAMES = [b"plain.txt", b"bad\xff\xfename.txt", b"new\nline.txt", b"back\\slash.txt", b"cr\rname.txt",
             b"all\\of\nthem\xff.txt", b"sub/deep\xc3(.txt"]


def make_raw_files(folder: Path) -> None:
    for name in ODD_NAMES:
        path = os.path.join(os.fsencode(folder), name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(b"contents of " + name)


def test_a_manifest_of_odd_names_is_what_coreutils_writes(tmp_path: Path) -> None:
    folder = tmp_path / "odd"
    make_raw_files(folder)
    entries = sorted((os.fsdecode(name), hashlib.sha256(b"contents of " + name).hexdigest()) for name in ODD_NAMES)

    from batchmill.core.processors.checksum import manifest_bytes

    ours = manifest_bytes(entries)

    # coreutils' own manifest of the same files, name by name (its order is the order given)
    theirs = subprocess.run(["sha256sum", "--", *[os.fsencode(rel) for rel, _digest in entries]],
                            cwd=folder, capture_output=True, timeout=30, check=True).stdout
    assert ours == theirs


def test_checksum_of_a_folder_with_odd_names_verifies_with_sha256sum(tmp_path: Path) -> None:
    folder = tmp_path / "odd"
    make_raw_files(folder)
    out = tmp_path / "out"

    result = subprocess.run([sys.executable, "-m", "batchmill.gui.launcher", "run", "checksum", str(folder),
                             "--output", str(out)], capture_output=True, text=True, timeout=90)

    assert result.returncode == 0, result.stderr
    manifest = out / "odd" / "SHA256SUMS"
    check = subprocess.run(["sha256sum", "--strict", "-c", str(manifest)], cwd=folder, capture_output=True,
                           timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count(b": OK\n") == len(ODD_NAMES)
