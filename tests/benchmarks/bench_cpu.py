"""CPU-bound files scale with workers: the ``python`` processor with ~50 ms of
pure-Python work per file, 200 files, 1 worker vs 2 workers (target: >= 1.8x).

    python tests/benchmarks/bench_cpu.py [--files 200] [--rounds 550000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import HERE, batchmill_command, time_command  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=550_000, help="loop rounds per file (~50 ms at 550000)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="batchmill-bench-cpu-"))
    data = work / "in"
    data.mkdir()
    for i in range(args.files):
        (data / f"f{i:04d}.txt").write_bytes(os.urandom(64))
    sys.path.insert(0, str(HERE))
    import cpu_work

    start = time.perf_counter()
    cpu_work.process(data / "f0000.txt", work / "probe.out", args.rounds)
    per_file = time.perf_counter() - start

    env = {**os.environ, "BATCHMILL_HOME": str(work / "home")}
    times = {}
    for workers in (1, 2):
        times[workers] = time_command(batchmill_command() + [
            "run", "python", str(data), "--output", str(work / f"out{workers}"), "--workers", str(workers),
            "--param", f"script={HERE / 'cpu_work.py'}", "--param", f"rounds={args.rounds}", "--quiet"], env)
    same = all((work / "out1" / "in" / p.name).read_text() == (work / "out2" / "in" / p.name).read_text()
               for p in data.iterdir())
    print(f"files: {args.files}, work per file: {per_file * 1000:.0f} ms (measured in this process)")
    print(f"1 worker : {times[1]:.2f} s")
    print(f"2 workers: {times[2]:.2f} s")
    print(f"speed-up : {times[1] / times[2]:.2f}x   (target >= 1.8x on 2 cores)")
    print(f"outputs identical: {'yes' if same else 'NO'}")
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
