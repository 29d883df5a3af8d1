"""Tiny files: ``batchmill run checksum`` vs a plain Pool script, side by side.

20,000 files of 4 KiB, SHA-256 each, both with the same number of workers,
both timed as whole commands (interpreter start, scan, hashing, manifest),
alternating runs so machine noise hits both. Also checks the manifest with
``sha256sum -c``. Run on demand:

    python tests/benchmarks/bench_checksum.py [--files 20000] [--rounds 5] [--workers 2]
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "batchmill-bench-tiny")
    args = parser.parse_args()

    data = make_tiny_files(args.data / "in", args.files)
    work = Path(tempfile.mkdtemp(prefix="batchmill-bench-"))
    env = {**os.environ, "BATCHMILL_HOME": str(work / "home")}
    ours, peer = [], []
    for round_ in range(args.rounds):
        out = work / f"out{round_}"
        ours.append(time_command(batchmill_command() + [
            "run", "checksum", str(data), "--output", str(out), "--workers", str(args.workers), "--quiet"], env))
        peer.append(time_command([sys.executable, str(HERE / "peer_pool.py"), str(data), str(work / "peer.sums"),
                                  str(args.workers)]))
    manifest = work / "out0" / data.name / "SHA256SUMS"
    check = subprocess.run(["sha256sum", "-c", "--quiet", str(manifest)], cwd=data)
    print(f"files: {args.files} x 4 KiB, workers: {args.workers}, rounds: {args.rounds}")
    print(f"batchmill run checksum : {best_of(ours)}")
    print(f"plain Pool script      : {best_of(peer)}")
    print(f"ratio (best/best)      : {min(ours) / min(peer):.2f}x   (target <= 1.10x)")
    print(f"manifest verified by sha256sum -c: {'yes' if check.returncode == 0 else 'NO'}")
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if check.returncode == 0 else 1)


if __name__ == "__main__":
    main()
