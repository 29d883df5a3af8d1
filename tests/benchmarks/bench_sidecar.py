"""What a provenance sidecar costs: ``batchmill run python copy_work.py`` over tiny files with
``--provenance sidecar`` against the same run with the default (journal only), side by side,
alternating rounds so machine noise hits both. Every output's sidecar is checked to parse and
name its input. Run on demand:

    python tests/benchmarks/bench_sidecar.py [--files 5000] [--rounds 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import HERE, batchmill_command, best_of, make_tiny_files, time_command  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "batchmill-bench-sidecar")
    args = parser.parse_args()

    data = make_tiny_files(args.data / "in", args.files)
    work = Path(tempfile.mkdtemp(prefix="batchmill-bench-"))
    env = {**os.environ, "BATCHMILL_HOME": str(work / "home")}
    timed: dict[str, list[float]] = {"journal": [], "sidecar": []}
    for round_ in range(args.rounds):
        for mode in ("journal", "sidecar"):
            out = work / f"{mode}{round_}"
            timed[mode].append(time_command(batchmill_command() + [
                "run", "python", str(data), "--output", str(out), "--param", f"script={HERE / 'copy_work.py'}",
                "--workers", str(args.workers), "--provenance", mode, "--quiet"], env))
            if round_ < args.rounds - 1 or mode == "journal":
                continue
            made = [p for p in (out / data.name).rglob("*") if p.is_file()]
            sidecars = [p for p in made if p.name.endswith(".provenance.json")]
            wrong = [s for s in sidecars if json.loads(s.read_text())["output"]["path"] != str(s)[:-16]]
            # (the outputs include make_tiny_files' marker, an input like the others)
            print(f"sidecars: {len(sidecars)} for {len(made) - len(sidecars)} outputs, {len(wrong)} wrong")
    print(f"files: {args.files} x 4 KiB, workers: {args.workers}, rounds: {args.rounds}")
    print(f"--provenance journal : {best_of(timed['journal'])}")
    print(f"--provenance sidecar : {best_of(timed['sidecar'])}")
    print(f"ratio (best/best)    : {min(timed['sidecar']) / min(timed['journal']):.2f}x")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
