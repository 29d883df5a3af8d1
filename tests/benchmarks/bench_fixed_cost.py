"""Fixed cost: what a job costs before and after its files, and tiny files against C.

Timed as whole commands, alternating rounds so machine noise hits every peer alike:

- a one-file ``batchmill run checksum`` (target <= 0.2 s), beside what it is made of:
  a bare interpreter, the main process's imports, a worker's imports, ``batchmill --help``,
  and the same job with the workers started after the engine is imported (late_workers.py);
- 20,000 files of 4 KiB, 2 workers: ``batchmill run checksum`` against
  ``find | xargs -0 -P2 -n500 sha256sum`` (C) and the plain Pool script
  (targets: <= 1.2x xargs, <= 0.9x the Pool script).

    python tests/benchmarks/bench_fixed_cost.py [--files 20000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import HERE, batchmill_command, best_of, make_tiny_files, time_command  # noqa: E402

MAIN_IMPORTS = ("import batchmill.gui.launcher, batchmill.core.cli, batchmill.core.engine, "
                "batchmill.core.report, batchmill.core.processors.checksum")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "batchmill-bench-tiny")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="batchmill-bench-fixed-"))
    env = {**os.environ, "BATCHMILL_HOME": str(work / "home")}
    one = work / "one"
    one.mkdir()
    (one / "a.bin").write_bytes(os.urandom(4096))
    run_one = ["run", "checksum", str(one), "--workers", str(args.workers), "--quiet", "--output"]
    py = sys.executable
    parts: dict[str, list[float]] = {name: [] for name in (
        "python -c pass", "main-process imports", "a worker's imports", "batchmill --help",
        "one-file job, workers started late", "one-file job")}
    for round_ in range(args.rounds):
        parts["python -c pass"].append(time_command([py, "-c", "pass"]))
        parts["main-process imports"].append(time_command([py, "-c", MAIN_IMPORTS]))
        parts["a worker's imports"].append(time_command([py, "-c", "import batchmill.core.worker"]))
        parts["batchmill --help"].append(time_command(batchmill_command() + ["--help"]))
        parts["one-file job, workers started late"].append(time_command(
            [py, str(HERE / "late_workers.py")] + run_one + [str(work / f"late{round_}")], env))
        parts["one-file job"].append(time_command(batchmill_command() + run_one + [str(work / f"one{round_}")], env))
    print(f"one-file job and its parts, {args.rounds} rounds:")
    for name, times in parts.items():
        print(f"  {name:36s}: {best_of(times)}")
    print(f"  one-file job: {min(parts['one-file job']):.3f} s (target <= 0.2 s); "
          f"early workers save {min(parts['one-file job, workers started late']) - min(parts['one-file job']):+.3f} s")

    data = make_tiny_files(args.data / "in", args.files)
    ours, xargs, pool = [], [], []
    for round_ in range(max(3, args.rounds // 2)):
        out = work / f"out{round_}"
        ours.append(time_command(batchmill_command() + [
            "run", "checksum", str(data), "--output", str(out), "--workers", str(args.workers), "--quiet"], env))
        xargs.append(time_command(["sh", "-c", f"find '{data}' -type f -print0 | "
                                   f"xargs -0 -P{args.workers} -n500 sha256sum > '{work / 'xargs.sums'}'"]))
        pool.append(time_command([py, str(HERE / "peer_pool.py"), str(data), str(work / "peer.sums"),
                                  str(args.workers)]))
    manifest = work / "out0" / data.name / "SHA256SUMS"
    check = subprocess.run(["sha256sum", "-c", "--quiet", str(manifest)], cwd=data)
    print(f"{args.files} x 4 KiB, {args.workers} workers:")
    print(f"  batchmill run checksum      : {best_of(ours)}")
    print(f"  xargs -P{args.workers} -n500 sha256sum    : {best_of(xargs)}")
    print(f"  plain Pool script           : {best_of(pool)}")
    print(f"  vs xargs: {min(ours) / min(xargs):.2f}x (target <= 1.2x); vs Pool: {min(ours) / min(pool):.2f}x "
          f"(target <= 0.9x)")
    print(f"  manifest verified by sha256sum -c: {'yes' if check.returncode == 0 else 'NO'}")
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if check.returncode == 0 else 1)


if __name__ == "__main__":
    main()
