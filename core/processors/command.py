"""``command``: run any program once per file, never through a shell.

``cmd`` is split into arguments the way a POSIX shell would split it (shlex)
*before* the placeholders are filled in, one argument at a time, in a single
pass: a file name full of spaces, quotes, ``;``, ``$(…)`` or braces reaches
the program as exactly one argument, literally.

- ``{input}``  the input file, as an absolute path
- ``{output}`` where the program writes its output: a temporary path next to
  the final output, ending in the output's extension (so programs that choose
  a format by extension work); it is renamed into place when the program exits 0
- ``{stem}``, ``{name}``, ``{ext}`` of the input (``photo``, ``photo.jpg``, ``.jpg``)

Without ``{input}`` in ``cmd``, the input file is the program's stdin
(otherwise stdin is empty). Without ``{output}``, whatever the program prints
on stdout becomes the output file (nothing printed: no output); with it, stdout
is discarded and a program that writes nothing to ``{output}`` makes no output.
So ``cmd='gzip -c'`` with ``ext=.gz`` compresses every file. The output is
named after the input, with ``ext`` as its extension if given.

A non-zero exit fails the file with the tail of the program's stderr. The
program runs in a session of its own; when it exits, anything it left running
in that session is killed. If the worker itself is killed (a ``--timeout``, a
cancel), the program dies with it: on Linux through ``PR_SET_PDEATHSIG``, and
on every POSIX system a small guardian process per worker kills the program's
whole process group — its children included — once the worker is gone. On
Windows only the program itself is stopped when its worker call is interrupted.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

from batchmill.core.context import ProcessorContext
from batchmill.core.processors.base import Param, ParamError, Processor

PLACEHOLDER = re.compile(r"\{(input|output|stem|name|ext)\}")
STDERR_TAIL_LINES = 20
STDERR_TAIL_CHARS = 2000
STDERR_READ_BYTES = 16384
PR_SET_PDEATHSIG = 1


class CommandError(RuntimeError):
    """The program could not be started, or it failed; the message says how."""


class CommandProcessor(Processor):
    name = "command"
    description = ("Run a program on every file, e.g. cmd='magick {input} -resize 50% {output}'. No shell is "
                   "used. Without {input} the file is fed on stdin; without {output} stdout becomes the output.")
    params = (
        Param("cmd", str, None, (), "The command line; placeholders {input} {output} {stem} {name} {ext} "
                                    "are filled in per argument.", required=True),
        Param("ext", str, "", (), "Extension of the outputs, e.g. .txt; empty keeps the input's."),
    )

    def validate(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        values = super().validate(raw)
        argv = split_command(values["cmd"])
        program = argv[0]
        if not PLACEHOLDER.search(program) and shutil.which(program) is None:
            raise ParamError(f"command not found: {program} (the first word of parameter 'cmd')")
        values["ext"] = normalize_ext(values["ext"])
        return values

    def task(self, params: Mapping[str, Any]) -> functools.partial[dict[str, str] | None]:
        return functools.partial(run_command, argv=tuple(split_command(params["cmd"])), ext=params["ext"])

    def output_name(self, params: Mapping[str, Any], name: str) -> str:
        return Path(name).stem + params["ext"] if params["ext"] else name


def split_command(cmd: str) -> list[str]:
    try:
        argv = shlex.split(cmd, posix=os.name != "nt")
    except ValueError as exc:
        raise ParamError(f"parameter 'cmd' cannot be split into arguments: {exc}") from None
    if os.name == "nt":  # non-POSIX shlex keeps the quotes around an argument
        argv = [a[1:-1] if len(a) >= 2 and a[0] == a[-1] and a[0] in "\"'" else a for a in argv]
    if not argv:
        raise ParamError("parameter 'cmd' is empty; it needs at least a program to run")
    return argv


def normalize_ext(ext: str) -> str:
    ext = ext.strip()
    if not ext:
        return ""
    if "/" in ext or os.sep in ext:
        raise ParamError(f"parameter 'ext' must be an extension such as .txt, not a path; got {ext!r}")
    return ext if ext.startswith(".") else "." + ext


def fill_placeholders(argv: Sequence[str], values: Mapping[str, str]) -> list[str]:
    """One pass per argument: text that came from a file name is never looked at again."""
    return [PLACEHOLDER.sub(lambda m: values[m.group(1)], arg) for arg in argv]


def run_command(src: Path, dst: Path | None, context: ProcessorContext, argv: tuple[str, ...] = (),
                ext: str = "") -> dict[str, str] | None:
    """The per-file function. Returns the stderr tail of a successful run, if it printed any."""
    assert dst is not None, "the command processor always has an output path"
    writes_output = any("{output}" in arg for arg in argv)
    reads_stdin = not any("{input}" in arg for arg in argv)
    # The program sees the output's real extension; the worker's temporary name ends in .bmpart.
    out_ext = ext or src.suffix
    partial = dst.with_name(dst.name + out_ext) if writes_output and out_ext else dst
    values = {"input": os.path.abspath(src), "output": os.path.abspath(partial),
              "stem": src.stem, "name": src.name, "ext": src.suffix}
    filled = fill_placeholders(argv, values)
    context.progress(None, f"running {Path(argv[0]).name}")
    try:
        with ExitStack() as files:
            stdin = files.enter_context(open(src, "rb")) if reads_stdin else subprocess.DEVNULL
            stdout = subprocess.DEVNULL if writes_output else files.enter_context(open(dst, "wb"))
            stderr = files.enter_context(tempfile.TemporaryFile())
            code = run_program(filled, stdin, stdout, stderr, partial)
            tail = read_tail(stderr)
        if code != 0:
            raise CommandError(describe_exit(code, tail))
        if partial != dst and os.path.lexists(partial):
            os.replace(partial, dst)
        if not writes_output and os.path.getsize(dst) == 0:
            os.unlink(dst)  # printed nothing: no output, like a program that wrote no {output}
    except BaseException:
        if partial != dst:
            _remove_quietly(partial)
        raise
    return {"stderr": tail} if tail else None


def describe_exit(code: int, tail: str) -> str:
    if code < 0:
        try:
            how = f"command was killed by {signal.Signals(-code).name}"
        except ValueError:
            how = f"command was killed by signal {-code}"
    else:
        how = f"command exited with code {code}"
    return f"{how}: {tail}" if tail else f"{how} (it printed nothing on stderr)"


def read_tail(stream: IO[bytes]) -> str:
    """The last lines of what the program printed on stderr, short enough for a failure message."""
    size = stream.seek(0, os.SEEK_END)
    stream.seek(max(0, size - STDERR_READ_BYTES))
    text = stream.read().decode("utf-8", "replace")
    tail = "\n".join(text.rstrip().splitlines()[-STDERR_TAIL_LINES:])
    return tail[-STDERR_TAIL_CHARS:].strip()


def run_program(argv: list[str], stdin: IO[bytes] | int, stdout: IO[bytes] | int, stderr: IO[bytes],
                output: Path) -> int:
    """Start the program in a session of its own and wait; whatever happens, leave nothing of it running."""
    if os.name == "nt":
        return _run_windows(argv, stdin, stdout, stderr)
    proc = start_program(argv, stdin=stdin, stdout=stdout, stderr=stderr, start_new_session=True,
                         preexec_fn=_death_signal_setter())
    try:
        GUARDIAN.watch(proc.pid, output)
        if hasattr(os, "waitid"):  # wait without reaping: the group id cannot be reused before the kill
            os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
        else:  # macOS before Python 3.13
            proc.wait()
    finally:
        _kill_group(proc.pid)
        proc.wait()
        GUARDIAN.release(proc.pid)
    return proc.returncode


def _run_windows(argv: list[str], stdin: IO[bytes] | int, stdout: IO[bytes] | int, stderr: IO[bytes]) -> int:
    proc = start_program(argv, stdin=stdin, stdout=stdout, stderr=stderr,
                         creationflags=getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0))
    try:
        return proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def start_program(argv: list[str], **options: Any) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(argv, **options)
    except FileNotFoundError:
        raise CommandError(f"command not found: {argv[0]}") from None
    except PermissionError:
        raise CommandError(f"command cannot be run (permission denied): {argv[0]}") from None
    except OSError as exc:
        raise CommandError(f"command could not be started: {argv[0]}: {exc.strerror or exc}") from None


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # the group is gone already


@functools.cache
def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def _death_signal_setter() -> Callable[[], None] | None:
    """For preexec_fn (Linux): the program gets SIGKILL the moment this worker dies, however it dies."""
    prctl = _prctl()
    if prctl is None:
        return None
    parent = os.getpid()

    def arm() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the worker died before the signal was armed
            os.kill(os.getpid(), signal.SIGKILL)

    return arm


# The guardian: reads "+PGID PATH" / "-PGID" lines from the worker; when the worker's end of the
# pipe closes (the worker exited or was killed), it kills every group still listed and removes
# their partial outputs. Paths are hex-encoded so any file name fits on one line.
GUARDIAN_MARK = "batchmill command guardian"  # shows in `ps`
GUARDIAN_SOURCE = f"# {GUARDIAN_MARK}\n" + """
import os, signal
signal.signal(signal.SIGINT, signal.SIG_IGN)
watched, pending = {}, b""
while True:
    chunk = os.read(0, 65536)
    if not chunk:
        break
    *lines, pending = (pending + chunk).split(b"\\n")
    for line in lines:
        op, pgid, path = line.decode().split(" ")
        if op == "+":
            watched[int(pgid)] = bytes.fromhex(path)
        else:
            watched.pop(int(pgid), None)
for pgid, path in watched.items():
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass
    try:
        os.unlink(path)
    except OSError:
        pass
"""


class Guardian:
    """One per worker process, started with the first program that worker runs.

    A SIGKILLed worker cannot clean up after itself, and PR_SET_PDEATHSIG only
    reaches the program, not the children it started; this process outlives
    the worker by the few milliseconds it takes to kill the rest."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None

    def watch(self, pgid: int, partial: Path) -> None:
        self._send(f"+ {pgid} {os.fsencode(os.path.abspath(partial)).hex()}\n")

    def release(self, pgid: int) -> None:
        self._send(f"- {pgid} -\n")

    def _send(self, line: str) -> None:
        proc = self._ensure()
        if proc is None or proc.stdin is None:
            return
        try:
            proc.stdin.write(line.encode())
            proc.stdin.flush()
        except OSError:
            self._proc = None  # it died; the next program starts a new one

    def _ensure(self) -> subprocess.Popen[bytes] | None:
        # Only in a worker: elsewhere (tests calling run_command, the GUI) nobody SIGKILLs the caller,
        # and a frozen app's executable cannot run ``-c``.
        if os.environ.get("BATCHMILL_ROLE") != "worker" or getattr(sys, "frozen", False):
            return None
        if self._proc is None or self._proc.poll() is not None:
            try:
                self._proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", GUARDIAN_SOURCE],
                                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL, start_new_session=True)
            except OSError:
                return None  # out of processes or file handles: the program still runs, unguarded
        return self._proc


GUARDIAN = Guardian()


def _remove_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
