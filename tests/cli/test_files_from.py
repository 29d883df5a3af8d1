"""Inputs from a list, as rsync, tar and GNU parallel users give them: ``--files-from FILE``
(``-`` is stdin), a lone ``-`` input, ``-0/--null`` for NUL-separated names (``find -print0``),
and ``--root DIR``: listed files keep the output layout of the folder they are listed from, so
the manifest is the one a run on the whole folder writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(120)

ODD_NAMES = ["plain.tif", "with space.tif", "quote's \"both\".tif", "new\nline.tif", "-leading-dash.tif",
             "ünïcödé.tif"]


def batchmill(*args: str, stdin: bytes | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "batchmill.gui.launcher", *args], input=stdin, capture_output=True,
                          timeout=90, cwd=cwd)


def make_tree(root: Path) -> Path:
    names = list(ODD_NAMES)
    for i, name in enumerate(names):
        folder = root if i % 2 else root / "sub dir" / "deeper"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(f"content {i}\n")
    if sys.platform.startswith("linux"):  # a name that is not UTF-8: Linux file systems allow any bytes
        os.close(os.open(os.path.join(os.fsencode(root), b"latin1-\xe9t\xe9.tif"), os.O_CREAT | os.O_WRONLY))
    (root / "not-listed.txt").write_text("left out by find -name\n")
    return root


def find_print0(root: Path) -> bytes:
    found = subprocess.run(["find", str(root), "-name", "*.tif", "-print0"], capture_output=True, check=True)
    return found.stdout


def folder_manifest(root: Path, out: Path) -> bytes:
    result = batchmill("run", "checksum", str(root), "--output", str(out), "--include", "*.tif")
    assert result.returncode == 0, result.stderr.decode()
    return (out / root.name / "SHA256SUMS").read_bytes()


def test_find_print0_into_a_lone_dash_gives_the_folder_manifest(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "IN")
    expected = folder_manifest(root, tmp_path / "by-folder")

    result = batchmill("run", "checksum", "-", "-0", "--root", str(root), "--output", str(tmp_path / "OUT"), "--json",
                       stdin=find_print0(root))

    assert result.returncode == 0, result.stderr.decode()
    data = json.loads(result.stdout)
    assert data["done"] == len(ODD_NAMES) + sys.platform.startswith("linux")
    assert (tmp_path / "OUT" / "IN" / "SHA256SUMS").read_bytes() == expected
    check = subprocess.run(["sha256sum", "-c", "--quiet", str(tmp_path / "OUT" / "IN" / "SHA256SUMS")], cwd=root,
                           capture_output=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_files_from_a_list_file_nul_separated_and_relative_to_the_current_folder(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "IN")
    expected = folder_manifest(root, tmp_path / "by-folder")
    listing = tmp_path / "list.bin"
    relative = subprocess.run(["find", "IN", "-name", "*.tif", "-print0"], capture_output=True, check=True,
                              cwd=tmp_path).stdout
    listing.write_bytes(relative)

    result = batchmill("run", "checksum", "--files-from", str(listing), "--null", "--root", "IN", "--output", "OUT",
                       cwd=tmp_path)

    assert result.returncode == 0, result.stderr.decode()
    assert (tmp_path / "OUT" / "IN" / "SHA256SUMS").read_bytes() == expected


def test_files_from_a_newline_list_and_the_common_root_by_default(tmp_path: Path) -> None:
    root = tmp_path / "IN"
    for rel in ("a/one.tif", "a/b/two.tif", "a/c/three.tif"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"{root / rel}\n" for rel in ("a/one.tif", "a/b/two.tif", "a/c/three.tif")) + "\n")

    result = batchmill("run", "checksum", "--files-from", str(listing), "--output", str(tmp_path / "OUT"))

    assert result.returncode == 0, result.stderr.decode()
    manifest = (tmp_path / "OUT" / "a" / "SHA256SUMS").read_text()  # the deepest folder holding them all
    assert [line.split("  ", 1)[1] for line in manifest.splitlines()] == ["b/two.tif", "c/three.tif", "one.tif"]


def test_a_file_copier_keeps_the_relative_layout_under_the_root(tmp_path: Path) -> None:
    root = tmp_path / "IN"
    for rel in ("x/one.txt", "y/z/two.txt", "y/skip.txt"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)
    script = Path(__file__).resolve().parent / "scripts" / "run_upper.py"

    result = batchmill("run", "python", "-", "--root", str(root), "--output", str(tmp_path / "OUT"),
                       "--param", f"script={script}", stdin=f"{root}/x/one.txt\n{root}/y/z/two.txt\n".encode())

    assert result.returncode == 0, result.stderr.decode()
    assert sorted(p.relative_to(tmp_path / "OUT").as_posix() for p in (tmp_path / "OUT").rglob("*") if p.is_file()) \
        == ["IN/x/one.txt", "IN/y/z/two.txt"]


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (["--files-from", "{tmp}/nope.txt"], None, "cannot read the list {tmp}/nope.txt"),
    (["-", "--root", "{tmp}/IN"], b"/elsewhere/file.tif\n", "/elsewhere/file.tif is not inside --root {tmp}/IN"),
    (["-", "{tmp}/IN"], b"", "a list of inputs (- or --files-from) cannot be mixed with other INPUTs"),
    (["-"], b"\n\n", "the list of inputs is empty"),
    (["{tmp}/IN", "--root", "{tmp}/IN"], None, "--root goes with a list of inputs (- or --files-from)"),
    (["-", "--root", "{tmp}/missing"], b"x\n", "--root {tmp}/missing is not a folder"),
])
def test_bad_lists_exit_2_with_a_message_and_the_json_object(tmp_path: Path, args: list[str], stdin: bytes | None,
                                                              message: str) -> None:
    (tmp_path / "IN").mkdir()
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    result = batchmill("run", "checksum", *args, "--output", str(tmp_path / "OUT"), "--json", stdin=stdin)
    assert result.returncode == 2
    assert f"batchmill: error: {message.replace('{tmp}', str(tmp_path))}" in result.stderr.decode()
    assert json.loads(result.stdout)["state"] == "error"
