"""A few long files: every worker must get one. N files of 1 s each (a sleep processor, run as
the ``python`` processor) on W workers, timed as whole commands, against the ideal ceil(N/W) s
and a plain Pool script (one file a task) measured in the same run; then one file that hangs,
under ``--timeout 2``, beside three of 1 s on 2 workers.

Targets (issue 14): wall <= ceil(N/W) s + 0.6 s for each (N, W); the hanging case within 3.6 s.

    python tests/benchmarks/bench_long_files.py [--seconds 1.0] [--rounds 2]
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import HERE, batchmill_command, time_command  # noqa: E402

CASES = ((2, 2), (4, 2), (4, 4), (8, 4), (9, 4))
SLACK_S = 0.6
HANG_LIMIT_S = 3.6


def make_files(folder: Path, names: list[str]) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name in names:
        (folder / name).write_bytes(b"x")
    return folder


def batchmill_run(work: Path, data: Path, workers: int, seconds: float) -> float:
    out = work / "out"
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "BATCHMILL_HOME": str(work / "home")}
    argv = batchmill_command() + [
        "run", "python", str(data), "--output", str(out), "--workers", str(workers),
        "--param", f"script={HERE / 'sleep_work.py'}", "--param", f"seconds={seconds}", "--quiet"]
    return time_command(argv, env)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=1.0, help="how long each file takes")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each case; the best is shown")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="batchmill-bench-long-"))
    ok = True
    print(f"{'N':>3} {'W':>3} {'ideal s':>8} {'batchmill s':>12} {'over ideal':>11} {'Pool s':>8} {'vs Pool':>8}")
    for files, workers in CASES:
        data = make_files(work / f"in-{files}", [f"f{i:02d}.bin" for i in range(files)])
        ours, peer = [], []
        for _ in range(args.rounds):
            ours.append(batchmill_run(work, data, workers, args.seconds))
            peer.append(time_command([sys.executable, str(HERE / "peer_sleep.py"), str(data), str(workers),
                                      str(args.seconds)]))
        ideal = math.ceil(files / workers) * args.seconds
        best, best_peer = min(ours), min(peer)
        ok &= best <= ideal + SLACK_S
        print(f"{files:>3} {workers:>3} {ideal:>8.2f} {best:>12.2f} {best - ideal:>+10.2f}s {best_peer:>8.2f} "
              f"{best / best_peer:>7.2f}x")
    data = make_files(work / "in-hang", ["f1.bin", "f2.bin", "f3.bin", "hang.bin"])
    hang_times = []
    for _ in range(args.rounds):
        out = work / "out"
        shutil.rmtree(out, ignore_errors=True)
        start = time.perf_counter()
        done = subprocess.run(batchmill_command() + [
            "run", "python", str(data), "--output", str(out), "--workers", "2", "--timeout", "2",
            "--param", f"script={HERE / 'sleep_work.py'}", "--param", f"seconds={args.seconds}", "--quiet"],
            env={**os.environ, "BATCHMILL_HOME": str(work / "home")}, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        hang_times.append(time.perf_counter() - start)
        ok &= done.returncode == 1  # the hanging file failed, the others were done
    ok &= min(hang_times) <= HANG_LIMIT_S
    print(f"1 hanging + 3 x {args.seconds:g} s, 2 workers, --timeout 2: {min(hang_times):.2f} s "
          f"(target <= {HANG_LIMIT_S} s; exit 1 as one file timed out)")
    print(f"all within target: {'yes' if ok else 'NO'}")
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
