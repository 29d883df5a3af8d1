"""Bad input through ``batchmill run`` as an operator would meet it (a real subprocess each time):
a clear message naming what is wrong, the documented exit status, and nothing lost — the other
files are done and every input is left exactly as it was."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine_driver import leftovers, snapshot

pytestmark = pytest.mark.timeout(120)

SCRIPTS = Path(__file__).resolve().parents[1] / "cli" / "scripts"
UPPER = SCRIPTS / "run_upper.py"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
# Root reads any file whatever its mode; dropping these capabilities makes chmod 000 bite again.
DROP_READ_OVERRIDE = ["--inh-caps=-dac_override,-dac_read_search", "--bounding-set=-dac_override,-dac_read_search"]
ODD_NAMES = ["with space.txt", "it's.txt", 'say "hi".txt', "ünïcødé ✓ 名前.txt", "-leading-dash.txt", "--help",
             "back\\slash.txt", "new\nline.txt", "tab\there.txt"]


def batchmill(*args: str, cwd: Path | None = None, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    command = [*prefix, sys.executable, "-m", "batchmill.gui.launcher", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=90)


def make_files(folder: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return folder


def sha256sum_check(manifest: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sha256sum", "--strict", "-c", str(manifest)], cwd=cwd, capture_output=True, text=True,
                          timeout=30)


def manifest_names(manifest: Path) -> list[str]:
    """File names in a manifest, unescaped the way coreutils reads them."""
    names = []
    for line in manifest.read_text(encoding="utf-8").splitlines():
        escaped = line.startswith("\\")
        name = line.split("  ", 1)[1]
        if escaped:
            name = name.replace("\\\\", "\0").replace("\\n", "\n").replace("\\r", "\r").replace("\0", "\\")
        names.append(name)
    return names


def test_a_missing_input_path_stops_the_job_before_it_starts(tmp_path: Path) -> None:
    present = make_files(tmp_path / "present", {"a.txt": b"a"})
    before = snapshot(present)

    result = batchmill("run", "checksum", str(present), str(tmp_path / "absent"), "--output", str(tmp_path / "out"))

    assert result.returncode == EXIT_USAGE, result.stderr
    assert f"batchmill: error: input {tmp_path / 'absent'} does not exist" in result.stderr
    assert not (tmp_path / "out").exists() and snapshot(present) == before


def test_an_unreadable_file_fails_alone_with_permission_denied(tmp_path: Path) -> None:
    prefix: tuple[str, ...] = ()
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root and setpriv (util-linux) is missing: chmod 000 would not stop root reading")
        prefix = ("setpriv", *DROP_READ_OVERRIDE)
    folder = make_files(tmp_path / "in", {"a.txt": b"alpha\n", "locked.txt": b"secret\n", "z.txt": b"zulu\n"})
    locked = folder / "locked.txt"
    locked.chmod(0)
    before = snapshot(folder)

    result = batchmill("run", "checksum", str(folder), "--output", str(tmp_path / "out"), prefix=prefix)

    assert result.returncode == EXIT_FAILED, result.stderr
    assert f"{locked}: cannot read input file: Permission denied" in result.stderr
    manifest = tmp_path / "out" / "in" / "SHA256SUMS"
    assert manifest_names(manifest) == ["a.txt", "z.txt"]
    assert sha256sum_check(manifest, folder).returncode == 0
    assert snapshot(folder) == before  # still mode 000, same bytes, same mtime


def test_a_file_that_vanishes_after_the_scan_fails_alone(tmp_path: Path) -> None:
    folder = make_files(tmp_path / "in", {"a.txt": b"a\n", "b.txt": b"b\n", "c.txt": b"c\n"})
    before = snapshot(folder)
    script = SCRIPTS / "run_delete_sibling.py"

    result = batchmill("run", "python", str(folder), "--output", str(tmp_path / "out"), "--workers", "1",
                       "--param", f"script={script}", "--param", "trigger=a.txt", "--param", "victim=b.txt")

    assert result.returncode == EXIT_FAILED, result.stderr
    assert f"{folder / 'b.txt'}: input file vanished after the scan (No such file or directory)" in result.stderr
    out = tmp_path / "out" / "in"
    assert sorted(p.name for p in out.iterdir()) == ["a.txt", "c.txt"]
    assert (out / "a.txt").read_bytes() == b"A\n" and (out / "c.txt").read_bytes() == b"C\n"
    del before["b.txt"]  # the one the script deleted on purpose
    assert snapshot(folder) == before


def test_an_empty_file_is_hashed_and_copied(tmp_path: Path) -> None:
    folder = make_files(tmp_path / "in", {"empty.txt": b"", "full.txt": b"full\n", "sub/empty too": b""})
    before = snapshot(folder)

    hashed = batchmill("run", "checksum", str(folder), "--output", str(tmp_path / "sums"))
    copied = batchmill("run", "python", str(folder), "--output", str(tmp_path / "copies"), "--param", f"script={UPPER}")

    assert (hashed.returncode, copied.returncode) == (EXIT_OK, EXIT_OK), hashed.stderr + copied.stderr
    manifest = tmp_path / "sums" / "in" / "SHA256SUMS"
    assert "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  empty.txt" in manifest.read_text()
    assert sha256sum_check(manifest, folder).returncode == 0
    assert (tmp_path / "copies" / "in" / "empty.txt").read_bytes() == b""
    assert (tmp_path / "copies" / "in" / "sub" / "empty too").read_bytes() == b""
    assert snapshot(folder) == before


@pytest.mark.skipif(sys.platform == "win32", reason="quotes, backslashes and newlines are not allowed in names there")
def test_odd_names_are_processed_and_the_manifest_verifies(tmp_path: Path) -> None:
    folder = make_files(tmp_path / "-odd 'input' folder", {
        name: f"content of {name}\n".encode() for name in ODD_NAMES + [f"sub dir/{n}" for n in ODD_NAMES[:5]]})
    before = snapshot(folder)
    out = tmp_path / "out ✓"

    # After "--" nothing is an option, so an input may start with a dash.
    hashed = batchmill("run", "--output", str(out / "sums"), "--", "checksum", str(folder))
    copied = batchmill("run", "--output", str(out / "copies"), "--param", f"script={UPPER}", "--", "python",
                       str(folder))

    assert (hashed.returncode, copied.returncode) == (EXIT_OK, EXIT_OK), hashed.stderr + copied.stderr
    manifest = out / "sums" / folder.name / "SHA256SUMS"
    assert sorted(manifest_names(manifest)) == sorted(before)
    check = sha256sum_check(manifest, folder)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count(": OK") == len(before)
    for rel in before:
        assert (out / "copies" / folder.name / rel).read_bytes() == (folder / rel).read_bytes().upper()
    assert snapshot(folder) == before


def test_an_output_folder_inside_the_input_is_not_scanned(tmp_path: Path) -> None:
    folder = make_files(tmp_path / "in", {"a.txt": b"a\n", "sub/b.txt": b"b\n"})
    results = folder / "results"

    first = batchmill("run", "python", str(folder), "--output", str(results), "--param", f"script={UPPER}", "--json")
    second = batchmill("run", "python", str(folder), "--output", str(results), "--param", f"script={UPPER}", "--json",
                       "--overwrite", "replace")

    assert (first.returncode, second.returncode) == (EXIT_OK, EXIT_OK), first.stderr + second.stderr
    note = f"the output folder {results} is inside the input {folder}; it is left out of the scan"
    assert note in first.stderr and note in second.stderr
    assert '"total": 2' in first.stdout and '"total": 2' in second.stdout  # the outputs were never inputs
    made = sorted(p.relative_to(results).as_posix() for p in results.rglob("*") if p.is_file())
    assert made == ["in/a.txt", "in/sub/b.txt"] and leftovers(results) == []


def test_two_inputs_colliding_on_one_output_stop_the_job_naming_both(tmp_path: Path) -> None:
    first = make_files(tmp_path / "2023" / "data", {"x.txt": b"x"})
    second = make_files(tmp_path / "2024" / "data", {"y.txt": b"y"})

    result = batchmill("run", "checksum", str(first), str(second), "--output", str(tmp_path / "out"))

    assert result.returncode == EXIT_USAGE, result.stderr
    assert (f"batchmill: error: inputs {first} and {second} would both write to {tmp_path / 'out' / 'data'}"
            in result.stderr)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["run", "nosuch"], "batchmill: error: unknown processor 'nosuch'; available: "),
    (["run", "checksum", "--param", "colour=red"],
     "batchmill: error: processor 'checksum' has no parameter 'colour' (it takes: algorithm)"),
    (["run", "checksum", "--param", "algorithm=crc32"],
     "batchmill: error: parameter 'algorithm' must be one of sha256, md5, sha1, sha512, blake2b; got 'crc32'"),
    (["run", "checksum", "--param", "algorithm"], "batchmill: error: --param needs NAME=VALUE, got 'algorithm'"),
    (["run", "python", "--param", f"script={UPPER}", "--param", "speed=11"],
     f"batchmill: error: function 'process' in {UPPER} takes no parameter 'speed' (it takes: none)"),
], ids=["unknown-processor", "unknown-parameter", "bad-choice", "no-value", "unknown-function-parameter"])
def test_an_unknown_processor_or_parameter_stops_the_job(tmp_path: Path, args: list[str], message: str) -> None:
    folder = make_files(tmp_path / "in", {"a.txt": b"a"})

    result = batchmill(*args[:2], str(folder), "--output", str(tmp_path / "out"), *args[2:])

    assert result.returncode == EXIT_USAGE, result.stderr
    assert message in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_script_with_a_syntax_error_is_named_with_its_line(tmp_path: Path) -> None:
    folder = make_files(tmp_path / "in", {"a.txt": b"a"})
    script = tmp_path / "broken script.py"
    script.write_text("from pathlib import Path\n\ndef process(src, dst)\n    dst.write_bytes(b'')\n")

    result = batchmill("run", "python", str(folder), "--output", str(tmp_path / "out"), "--param", f"script={script}")

    assert result.returncode == EXIT_USAGE, result.stderr
    assert f"batchmill: error: script {script} has a syntax error on line 3: " in result.stderr
    assert not (tmp_path / "out").exists()
