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

COPY = Path(__file__).resolve().parents[1] / "cli" / "scripts" / "run_upper.py"

# Raw names as the file system holds them: not every one of them is text.
ODD_NAMES = [b"plain.txt", b"odd\xff\xfename.txt", b"new\nline.txt", b"back\\slash.txt", b"cr\rname.txt",
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


def test_odd_names_are_recorded_and_found_again_by_overwrite_changed(tmp_path: Path) -> None:
    """What each output was made from is journaled under the raw name (issue 16's provenance):
    a name that is not valid UTF-8 ended the job with an engine error there, and must be found
    again by the next run."""
    folder = tmp_path / "odd"
    make_raw_files(folder)
    command = [sys.executable, "-m", "batchmill.gui.launcher", "run", "python", str(folder), "--output",
               str(tmp_path / "out"), "--param", f"script={COPY}", "--overwrite", "changed", "--json"]

    first = subprocess.run(command, capture_output=True, text=True, timeout=90)
    second = subprocess.run(command, capture_output=True, text=True, timeout=90)

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert '"skipped": 7' in second.stdout, second.stdout  # every file up to date
