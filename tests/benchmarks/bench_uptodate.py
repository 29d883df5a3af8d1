"""The up-to-date check: an unchanged folder run again with ``--overwrite changed`` against
processing it with ``checksum``, side by side (the issue's target: at most 0.3x).

200,000 files of 1 KiB by default. Per round, in a fresh journal and output folder:

1. ``run checksum IN --overwrite changed``: every file hashed (the cost of processing it);
2. the same command again, nothing changed: the scan, the check of every file against the
   journal's records, the manifest rebuilt from the recorded digests — no file hashed;
3. ``--dry-run`` of the same command: the check alone, each verdict printed.

Also checks that the second run hashed nothing and that its manifest verifies with
``sha256sum -c``, and measures apart the parts of the up-to-date run no bookkeeping can remove:
a command's fixed cost (an up-to-date run of a one-file folder), the scan alone, a stat of each
input, and reading the records the first run logged. Run on demand (under the heavy lock on
shared machines):

    python tests/benchmarks/bench_uptodate.py [--files 200000] [--rounds 2] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import batchmill_command, best_of, make_tiny_files  # noqa: E402

TARGET = 0.3


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(argv, check=True, env=env, capture_output=True, text=True)
    return time.perf_counter() - start, done.stdout


def measure_parts(data: Path, work: Path, env: dict[str, str], command: list[str]) -> dict[str, float]:
    """What an up-to-date run of ``data`` costs before any bookkeeping (see the module's doc)."""
    from batchmill.core.journal import Journal
    from batchmill.core.provenance import ProvenanceStore
    from batchmill.core.scan import Filter, iter_folder

    one = work / "one"
    one.mkdir()
    (one / "a.bin").write_bytes(b"x")
    single = [str(one) if arg == str(data) else arg for arg in command]
    single = [str(work / "one-out") if arg == str(work / "out") else arg for arg in single]
    timed(single, env)
    fixed = min(timed(single, env)[0] for _ in range(3))
    start = time.perf_counter()
    paths = [path for path, _rel, _size in iter_folder(data, Filter((), (), None), True, set(), lambda _m: None)]
    scan = time.perf_counter() - start
    start = time.perf_counter()
    for path in paths:
        os.stat(path)
    stat = time.perf_counter() - start
    journal = Journal(Path(env["BATCHMILL_HOME"]))
    start = time.perf_counter()
    logged = ProvenanceStore(journal).logged((str(work / "out"),), 10**9)
    read = time.perf_counter() - start
    journal.close()
    assert logged is not None and len(logged) >= len(paths) - 1, "the records were folded: nothing to measure"
    return {"fixed cost (a one-file up-to-date run)": fixed, "the scan alone": scan,
            "a stat of each input": stat, f"reading the {len(logged):,} logged records": read}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "batchmill-bench-uptodate")
    args = parser.parse_args()

    data = make_tiny_files(args.data / "in", args.files, size=1024)
    first, again, preview = [], [], []
    checked = True
    for round_ in range(args.rounds):
        work = Path(tempfile.mkdtemp(prefix="batchmill-bench-uptodate-"))
        env = {**os.environ, "BATCHMILL_HOME": str(work / "home")}
        command = batchmill_command() + ["run", "checksum", str(data), "--output", str(work / "out"),
                                         "--overwrite", "changed", "--workers", str(args.workers), "-q"]
        seconds, _ = timed(command + ["--json"], env)
        first.append(seconds)
        seconds, stdout = timed(command + ["--json"], env)
        again.append(seconds)
        summary = json.loads(stdout)
        total = summary["total"]  # the files and make_tiny_files' marker
        checked &= summary["done"] == 0 and summary["skipped"] == total >= args.files
        seconds, _ = timed(command + ["--dry-run", "--json"], env)
        preview.append(seconds)
        manifest = work / "out" / data.name / "SHA256SUMS"
        verify = subprocess.run(["sha256sum", "-c", "--quiet", str(manifest)], cwd=data)
        checked &= verify.returncode == 0 and len(manifest.read_bytes().splitlines()) == total
        if round_ == args.rounds - 1:
            parts = measure_parts(data, work, env, command)
        shutil.rmtree(work, ignore_errors=True)
    ratio = min(again) / min(first)
    print(f"files: {args.files:,} x 1 KiB, workers: {args.workers}, rounds: {args.rounds}")
    print(f"run checksum, every file hashed        : {best_of(first)}")
    print(f"run again, unchanged (all up to date)  : {best_of(again)}")
    print(f"--dry-run, unchanged (the check alone) : {best_of(preview)}")
    print(f"ratio up-to-date run / processing      : {ratio:.2f}x   (target <= {TARGET}x)")
    print(f"ratio dry run / processing             : {min(preview) / min(first):.2f}x")
    print(f"nothing hashed again, manifest whole and verified by sha256sum -c: {'yes' if checked else 'NO'}")
    print("parts of the up-to-date run, measured apart:")
    for what, seconds in parts.items():
        print(f"  {what:<38}: {seconds:.3f} s")
    print(f"  {'together':<38}: {sum(parts.values()):.3f} s = {sum(parts.values()) / min(first):.2f}x processing")


if __name__ == "__main__":
    main()
