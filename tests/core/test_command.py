"""The ``command`` processor: file names reach the program literally (never a shell), failures say
what the program said, and nothing it started outlives its file — not even after a timeout kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from batchmill.core.processors import get_processor
from batchmill.core.processors.base import ParamError
from batchmill.core.processors.command import (
    GUARDIAN_MARK, CommandError, CommandProcessor, fill_placeholders, run_command, split_command,
)

pytestmark = [pytest.mark.timeout(120), pytest.mark.skipif(os.name == "nt", reason="POSIX process groups")]

PYTHON = sys.executable
# Names a shell would split, expand, substitute or read as an option.
NASTY_NAMES = [
    "with space.txt",
    "single'quote.txt",
    'double"quote.txt',
    "semi;colon.txt",
    "$(touch pwned-dollar).txt",
    "`touch pwned-backtick`.txt",
    "star*.txt",
    "new\nline.txt",
    "-leading-dash.txt",
    "{output}{name}.txt",
    "$HOME & | > <.txt",
]
RECORDER = """\
import json, sys
with open(sys.argv[2], "w", encoding="utf-8") as out:
    json.dump(sys.argv[1:], out)
"""


class RecordingContext:
    """Stands in for the worker's ProcessorContext when a per-file function is called directly."""

    def __init__(self) -> None:
        self.reports: list[tuple[float | None, str]] = []

    def progress(self, fraction: float | None, message: str = "") -> None:
        self.reports.append((fraction, message))


def batchmill(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PYTHON, "-m", "batchmill.gui.launcher", *args], capture_output=True, text=True, timeout=90,
                          cwd=cwd)


def run(argv: list[str], src: Path, dst: Path, ext: str = "") -> Any:
    return run_command(src, dst, RecordingContext(), argv=tuple(argv), ext=ext)  # type: ignore[arg-type]


def processes_with(token: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if proc.info["cmdline"] and any(token in part for part in proc.info["cmdline"]):
                if proc.status() != psutil.STATUS_ZOMBIE:
                    found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def wait_until_gone(token: str, within_s: float = 5.0, since: float = 0.0) -> list[psutil.Process]:
    """Processes with ``token`` on their command line (started after ``since``) still there after ``within_s``."""
    deadline = time.monotonic() + within_s
    while (left := [p for p in processes_with(token) if p.create_time() >= since - 1]) \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    for proc in left:  # never leave them behind, even when the test fails
        proc.kill()
    return left


@pytest.fixture
def token() -> Iterator[str]:
    """A unique number of seconds (about 60) put on the command line of the processes a test starts,
    to find them later; ``sleep TOKEN`` takes it as its duration."""
    mark = f"60.{uuid.uuid4().int % 10**12:012d}"
    yield mark
    for proc in processes_with(mark):
        proc.kill()


# -- names reach the program literally --------------------------------------------------
def test_every_nasty_name_reaches_the_program_literally(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in NASTY_NAMES:
        (folder / name).write_text(name)
    recorder = tmp_path / "recorder.py"
    recorder.write_text(RECORDER)
    cmd = f"{PYTHON} {recorder} {{input}} {{output}} {{name}} {{stem}} {{ext}} 'a b' \"{{name}}\""
    started = time.time()

    result = batchmill("run", "command", str(folder), "--output", str(tmp_path / "out"), "--param", f"cmd={cmd}",
                       "--json", cwd=tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["done"] == len(NASTY_NAMES)
    for name in NASTY_NAMES:
        output = tmp_path / "out" / "in" / name
        argv = json.loads(output.read_text(encoding="utf-8"))
        stem, ext = os.path.splitext(name)
        assert argv[0] == str(folder / name)
        assert Path(argv[1]).parent == output.parent and argv[1].endswith(".txt")  # a temporary name, real extension
        assert argv[2:] == [name, stem, ext, "a b", name]
    assert not list(tmp_path.rglob("pwned*"))  # no shell ever ran $(…) or `…`
    assert sorted(p.name for p in (tmp_path / "out" / "in").iterdir()) == sorted(NASTY_NAMES)  # no partials left
    assert wait_until_gone(GUARDIAN_MARK, since=started) == []  # the worker's guardian ended with it


def test_placeholders_are_filled_in_one_pass() -> None:
    values = {"input": "/in/{output}.txt", "output": "/out/x", "stem": "{ext}", "name": "n", "ext": ".txt"}

    filled = fill_placeholders(["{input}", "--stem={stem}", "{unknown}", "{{name}}"], values)

    assert filled == ["/in/{output}.txt", "--stem={ext}", "{unknown}", "{n}"]


def test_cmd_is_split_like_a_shell_before_substitution() -> None:
    assert split_command("""conv -q 'two words' "{input}" x\\ y""") == ["conv", "-q", "two words", "{input}", "x y"]


def test_unbalanced_quotes_are_refused_naming_the_parameter() -> None:
    with pytest.raises(ParamError, match="parameter 'cmd' cannot be split into arguments: No closing quotation"):
        CommandProcessor().validate({"cmd": "echo 'oops {input}"})


def test_a_missing_program_stops_the_job_before_it_starts() -> None:
    with pytest.raises(ParamError, match="command not found: no-such-program-xyz"):
        CommandProcessor().validate({"cmd": "no-such-program-xyz {input}"})


def test_output_name_follows_ext() -> None:
    proc = get_processor("command")

    assert proc.output_name(proc.validate({"cmd": "cat", "ext": "md"}), "notes.txt") == "notes.md"
    assert proc.output_name(proc.validate({"cmd": "cat", "ext": ".gz"}), "archive") == "archive.gz"
    assert proc.output_name(proc.validate({"cmd": "cat"}), "notes.txt") == "notes.txt"
    with pytest.raises(ParamError, match="parameter 'ext' must be an extension"):
        proc.validate({"cmd": "cat", "ext": "a/b"})


# -- stdin, stdout and {output} ---------------------------------------------------------
def test_without_placeholders_the_input_is_stdin_and_stdout_the_output(tmp_path: Path) -> None:
    src = tmp_path / "a.txt"
    src.write_text("hello\n")
    dst = tmp_path / "out.tmp"

    result = run(["tr", "a-z", "A-Z"], src, dst)

    assert dst.read_text() == "HELLO\n"
    assert result is None


def test_a_program_that_prints_nothing_makes_no_output(tmp_path: Path) -> None:
    src = tmp_path / "a.txt"
    src.write_text("hello\n")
    dst = tmp_path / "out.tmp"

    run(["true"], src, dst)

    assert not dst.exists()


def test_a_program_given_output_that_writes_nothing_makes_no_output(tmp_path: Path) -> None:
    src = tmp_path / "a.txt"
    src.write_text("hello\n")
    dst = tmp_path / "out.tmp"

    run([PYTHON, "-c", "print('chatter')", "{input}", "{output}"], src, dst, ext=".md")

    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_output_written_under_the_real_extension_lands_at_dst(tmp_path: Path) -> None:
    src = tmp_path / "a.txt"
    src.write_text("hello\n")
    dst = tmp_path / ".a.md.1234abcd.bmpart"
    code = "import sys, shutil; assert sys.argv[2].endswith('.md'); shutil.copy(sys.argv[1], sys.argv[2])"

    run([PYTHON, "-c", code, "{input}", "{output}"], src, dst, ext=".md")

    assert dst.read_text() == "hello\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [dst.name, "a.txt"]


def test_stderr_of_a_successful_run_is_kept_in_the_result(tmp_path: Path) -> None:
    src = tmp_path / "a.txt"
    src.write_text("x")

    result = run([PYTHON, "-c", "import sys; sys.stderr.write('note: fine\\n')", "{input}"], src, tmp_path / "o")

    assert result == {"stderr": "note: fine"}


# -- failures ---------------------------------------------------------------------------
def test_a_non_zero_exit_fails_with_the_tail_of_stderr(tmp_path: Path) -> None:
    src = tmp_path / "a.txt"
    src.write_text("x")
    code = "import sys\nfor i in range(1, 31): print(f'line {i}', file=sys.stderr)\nsys.exit(3)"

    with pytest.raises(CommandError) as caught:
        run([PYTHON, "-c", code, "{input}", "{output}"], src, tmp_path / "o")

    message = str(caught.value)
    assert message.startswith("command exited with code 3: line 11\nline 12\n")
    assert message.endswith("line 30")
    assert "line 10\n" not in message


def test_a_huge_stderr_is_cut_to_a_readable_tail(tmp_path: Path) -> None:
    src = tmp_path / "a.txt"
    src.write_text("x")
    code = "import sys; sys.stderr.write('y' * 100000 + '\\nfinal words'); sys.exit(1)"

    with pytest.raises(CommandError) as caught:
        run([PYTHON, "-c", code, "{input}"], src, tmp_path / "o")

    message = str(caught.value)
    assert message.startswith("command exited with code 1: ") and message.endswith("\nfinal words")
    assert len(message) < 2100


def test_a_silent_failure_says_stderr_was_empty(tmp_path: Path) -> None:
    src = tmp_path / "a.txt"
    src.write_text("x")

    with pytest.raises(CommandError, match=r"^command exited with code 1 \(it printed nothing on stderr\)$"):
        run(["false", "{input}"], src, tmp_path / "o")


def test_a_program_killed_by_a_signal_says_which(tmp_path: Path) -> None:
    src = tmp_path / "a.txt"
    src.write_text("x")
    code = "import os, signal, sys; print('dying', file=sys.stderr, flush=True); os.kill(os.getpid(), signal.SIGSEGV)"

    with pytest.raises(CommandError, match="^command was killed by SIGSEGV: dying$"):
        run([PYTHON, "-c", code, "{input}"], src, tmp_path / "o")


def test_a_program_that_vanished_after_validation_is_named(tmp_path: Path) -> None:
    src = tmp_path / "a.txt"
    src.write_text("x")

    with pytest.raises(CommandError, match=f"^command not found: {tmp_path}/gone-tool$"):
        run([str(tmp_path / "gone-tool"), "{input}"], src, tmp_path / "o")


def test_a_program_that_cannot_be_run_says_why(tmp_path: Path) -> None:
    src = tmp_path / "a.txt"
    src.write_text("x")
    not_executable = tmp_path / "tool.sh"
    not_executable.write_text("#!/bin/sh\necho hi\n")
    garbage = tmp_path / "tool.bin"
    garbage.write_bytes(b"\x00\x01 not a program")
    garbage.chmod(0o755)

    with pytest.raises(CommandError, match=f"^command cannot be run \\(permission denied\\): {not_executable}$"):
        run([str(not_executable), "{input}"], src, tmp_path / "o")
    with pytest.raises(CommandError, match=f"^command could not be started: {garbage}: Exec format error$"):
        run([str(garbage), "{input}"], src, tmp_path / "o")


def test_a_failed_run_leaves_no_partial_output(tmp_path: Path) -> None:
    src = tmp_path / "a.txt"
    src.write_text("x")
    code = "import sys; open(sys.argv[2], 'w').write('half'); sys.exit(2)"

    with pytest.raises(CommandError):
        run([PYTHON, "-c", code, "{input}", "{output}"], src, tmp_path / "o.tmp", ext=".out")

    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


# -- nothing outlives its file ----------------------------------------------------------
def test_children_left_running_are_killed_when_the_program_exits(tmp_path: Path, token: str) -> None:
    src = tmp_path / "a.txt"
    src.write_text("x")
    code = ("import subprocess, sys; "
            f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', '{token}'])")

    run([PYTHON, "-c", code, "{input}"], src, tmp_path / "o")

    assert wait_until_gone(token) == []


class Interrupted(Exception):
    pass


def _raise_interrupted(signum: int, frame: object) -> None:
    raise Interrupted("worker call interrupted")


def test_an_interrupted_call_kills_the_program_and_its_children(tmp_path: Path, token: str) -> None:
    src = tmp_path / "a.txt"
    src.write_text("x")
    code = f"import subprocess, time; subprocess.Popen(['sleep', '{token}']); time.sleep(60)"
    previous = signal.signal(signal.SIGUSR1, _raise_interrupted)
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGUSR1))
    timer.start()
    try:
        started = time.monotonic()
        with pytest.raises(Interrupted):
            run([PYTHON, "-c", code, token, "{input}"], src, tmp_path / "o")
        assert time.monotonic() - started < 10
    finally:
        timer.cancel()
        signal.signal(signal.SIGUSR1, previous)

    assert wait_until_gone(token, within_s=2.0) == []  # SIGKILLed before run_command returned; gone once it lands


@pytest.mark.parametrize("cmd", ["sleep {token}", "sh -c 'sleep {token}; true' {input}"],
                         ids=["program", "program-and-children"])
def test_a_timeout_kills_the_program_and_its_children(tmp_path: Path, token: str, cmd: str) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "slow.txt").write_text("x")
    started = time.time()

    result = batchmill("run", "command", str(folder), "--output", str(tmp_path / "out"), "--timeout", "1",
                       "--param", "cmd=" + cmd.replace("{token}", token), "--json", cwd=tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    failures = json.loads(result.stdout)["failures"]
    assert [f["error"] for f in failures] == ["ran longer than the 1 s timeout; its worker process was killed"]
    assert wait_until_gone(token) == []
    assert wait_until_gone(GUARDIAN_MARK, since=started) == []  # the worker's guardian went with it
    assert not list((tmp_path / "out").rglob("*slow*"))  # no partial output left behind
