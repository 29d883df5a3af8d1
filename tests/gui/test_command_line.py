"""Item 7 and the rest of ``batchmill gui``'s contract: --start --exit-when-done runs a job through the
window and exits like ``batchmill run``; bad arguments exit 2 before any window opens."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pytestqt.qtbot import QtBot

from batchmill.gui.app import EXIT_USAGE, apply_options, main, parse_options, show_options_problem
from batchmill.gui.main_window import MainWindow
from gui_helpers import SCRIPTS, make_files


def batchmill() -> list[str]:
    script = Path(sys.executable).with_name("batchmill")
    return [str(script)] if script.exists() else [sys.executable, "-m", "batchmill.gui.launcher"]


def run_gui(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "BATCHMILL_HOME": str(home)}
    return subprocess.run(batchmill() + ["gui", *args], env=env, capture_output=True, text=True, timeout=120)


def test_gui_start_exit_when_done_writes_verified_manifests(tmp_path: Path, batchmill_home: Path) -> None:
    inputs = make_files(tmp_path / "IN", 30)
    (inputs / "sub dir").mkdir()
    (inputs / "sub dir" / "ünïcode name.txt").write_text("hello\n")
    out = tmp_path / "OUT"
    done = run_gui([str(inputs), "--processor", "checksum", "--output", str(out), "--start", "--exit-when-done"],
                   batchmill_home)
    assert done.returncode == 0, done.stderr
    manifest = out / "IN" / "SHA256SUMS"
    check = subprocess.run(["sha256sum", "-c", str(manifest)], cwd=inputs, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count(": OK") == 31


def test_gui_exit_when_done_exits_1_when_files_fail(tmp_path: Path, batchmill_home: Path) -> None:
    inputs = make_files(tmp_path / "in", 3)
    (inputs / "bad1.txt").write_text("bad\n")
    done = run_gui([str(inputs), "--processor", "python", "--param", f"script={SCRIPTS / 'flaky.py'}",
                    "--param", f"fixed_flag={tmp_path / 'no-such-flag'}", "--output", str(tmp_path / "out"),
                    "--start", "--exit-when-done"], batchmill_home)
    assert done.returncode == 1, done.stderr
    assert len(list((tmp_path / "out" / "in").iterdir())) == 3


@pytest.mark.parametrize(("args", "message"), [
    (["{inputs}", "--processor", "nope", "--start", "--output", "{out}"], "unknown processor 'nope'"),
    (["{missing}"], "input {missing} does not exist"),
    (["{inputs}", "--processor", "checksum", "--param", "algorithm=crc", "--start", "--output", "{out}"],
     "must be one of"),
    (["{inputs}", "--processor", "checksum", "--param", "algorithm"], "--param needs NAME=VALUE"),
    (["{inputs}", "--processor", "checksum", "--start"], "--start needs --output"),
    (["{inputs}", "--exit-when-done"], "--exit-when-done needs --start"),
    (["--frobnicate"], "unrecognized arguments: --frobnicate"),
])
def test_bad_arguments_exit_2_with_a_message(args: list[str], message: str, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    inputs = make_files(tmp_path / "in", 1)
    values = {"inputs": str(inputs), "missing": str(tmp_path / "missing"), "out": str(tmp_path / "out")}
    assert main([a.format(**values) for a in args]) == EXIT_USAGE
    assert message.format(**values) in capsys.readouterr().err


def test_a_script_that_cannot_be_used_is_shown_in_the_window(window: MainWindow, qtbot: QtBot,
                                                              tmp_path: Path) -> None:
    # Started from a desktop entry nobody reads stderr: the window opens and says what is wrong.
    bad = tmp_path / "bad.py"
    bad.write_text("def process(src, dst):\n    return (\n")
    options = parse_options(["--processor", "python", "--param", f"script={bad}"])
    assert options.problem is not None and "bad.py" in options.problem
    apply_options(window, options)
    box = show_options_problem(window, options)
    qtbot.waitUntil(box.isVisible)
    assert box.text() == options.problem
    assert "cannot be used" in box.windowTitle()
