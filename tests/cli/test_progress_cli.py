"""``batchmill run``'s progress lines tell the truth: no total that shrinks (or that is only what
the scan found so far), and a rate that leaves out the time the process was stopped (Ctrl-Z)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.timeout(180)

SLOW = Path(__file__).resolve().parents[1] / "gui" / "scripts" / "slow_copy.py"
LINE = re.compile(r"^(\d+)/(\d+) files \(\d+ failed\), ([\d.,]+) files/s")


def make_tiny_files(folder: Path, count: int) -> Path:
    for i in range(count):
        sub = folder / f"d{i // 1000:03d}"
        if i % 1000 == 0:
            sub.mkdir(parents=True)
        (sub / f"f{i:06d}.txt").write_bytes(b"%d\n" % i)
    return folder


class Lines:
    """stderr of a running CLI, each line with the time it arrived."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.got: list[tuple[float, str]] = []
        assert process.stderr is not None
        self._thread = threading.Thread(target=self._read, args=(process.stderr,), daemon=True)
        self._thread.start()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self.got.append((time.monotonic(), line.rstrip("\n")))

    def join(self) -> None:
        self._thread.join(10)


def run_cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "batchmill.gui.launcher", "run", *args], text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=dict(os.environ))


def test_the_first_line_and_every_progress_line_give_no_total_that_will_shrink(tmp_path: Path) -> None:
    count = 30_000
    folder = make_tiny_files(tmp_path / "tiny", count)
    cli = run_cli("checksum", str(folder), "--output", str(tmp_path / "out"), "--workers", "2")
    lines = Lines(cli)
    assert cli.wait(150) == 0
    lines.join()
    text = [line for _t, line in lines.got]
    first = text[0]
    assert first.endswith("workers") and (f": {count} files" in first or "files found so far" in first), first
    totals = [int(m.group(2)) for m in map(LINE.match, text) if m]
    assert all(total == count for total in totals), totals
    assert any(f"of {count} files" in line for line in text)


def stop_tree(pid: int, sig: signal.Signals) -> None:
    parent = psutil.Process(pid)
    for process in [parent, *parent.children(recursive=True)]:
        try:
            process.send_signal(sig)
        except psutil.NoSuchProcess:
            pass


def test_the_rate_after_the_process_was_stopped_is_the_rate_of_running_time(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    for i in range(600):
        (inputs / f"f{i:03d}.txt").write_text(f"{i}\n")
    cli = run_cli("python", str(inputs), "--output", str(tmp_path / "out"), "--workers", "2",
                  "--param", f"script={SLOW}", "--param", "delay=0.1")
    lines = Lines(cli)
    try:
        deadline = time.monotonic() + 60
        while not [line for _t, line in lines.got if LINE.match(line) and int(LINE.match(line).group(1)) >= 60]:  # type: ignore[union-attr]
            assert time.monotonic() < deadline and cli.poll() is None, lines.got
            time.sleep(0.1)
        stop_tree(cli.pid, signal.SIGSTOP)  # Ctrl-Z stops the whole process group like this
        time.sleep(10)
        stop_tree(cli.pid, signal.SIGCONT)
        resumed = time.monotonic()
        time.sleep(7)
        after = [(t, m) for t, m in ((t, LINE.match(line)) for t, line in lines.got) if m and t > resumed + 2]
        assert len(after) >= 2, lines.got
        (t0, m0), (t1, m1) = after[0], after[-1]
        true_rate = (int(m1.group(1)) - int(m0.group(1))) / (t1 - t0)
        shown = float(m1.group(3).replace(",", ""))
        print(f"CLI after a 10 s stop: shown {shown} files/s, true {true_rate:.1f} files/s")
        assert abs(shown - true_rate) <= 0.3 * true_rate, f"shown {shown} files/s, true {true_rate:.1f}"
    finally:
        stop_tree(cli.pid, signal.SIGCONT)
        cli.send_signal(signal.SIGINT)
        cli.wait(30)
        lines.join()


STRICT = '''import shutil
from pathlib import Path


def process(src: Path, dst: Path) -> None:
    if src.name.startswith("bad"):
        raise ValueError("marked bad")
    shutil.copyfile(src, dst)
'''


def test_retry_says_which_code_it_runs_and_runs_the_current_one_when_asked(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name in ("a.txt", "b.txt", "bad1.txt", "bad2.txt"):
        (inputs / name).write_text(name)
    script = tmp_path / "strict.py"
    script.write_text(STRICT)
    env = dict(os.environ)
    first = subprocess.run([sys.executable, "-m", "batchmill.gui.launcher", "run", "python", str(inputs), "--output",
                            str(tmp_path / "out"), "--param", f"script={script}", "--json"],
                           capture_output=True, text=True, env=env, timeout=90)
    assert first.returncode == 1, first.stderr
    job_id = json.loads(first.stdout)["job_id"]
    time.sleep(0.05)
    script.write_text(STRICT.replace('startswith("bad")', 'startswith("never")'))
    again = subprocess.run([sys.executable, "-m", "batchmill.gui.launcher", "retry", job_id],
                           capture_output=True, text=True, env=env, timeout=90)
    assert again.returncode == 1 and "with the code the job was made with" in again.stderr, again.stderr
    assert "--current-code runs the new version" in again.stderr
    fixed = subprocess.run([sys.executable, "-m", "batchmill.gui.launcher", "retry", job_id, "--current-code"],
                           capture_output=True, text=True, env=env, timeout=90)
    assert fixed.returncode == 0 and "with the processor's current code" in fixed.stderr, fixed.stderr
    assert sorted(p.name for p in (tmp_path / "out" / "in").iterdir()) == ["a.txt", "b.txt", "bad1.txt", "bad2.txt"]
