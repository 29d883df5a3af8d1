"""Flat memory: the main process's peak RSS (VmHWM) for ``checksum`` and a no-op ``python``
processor over 10,000, 100,000 and 1,000,000 empty files, beside the plain Pool script.

Target (issue 14): the 1,000,000 figure <= 1.5x the 10,000 one and <= 150 MiB, for both
processors; every manifest verified with ``sha256sum -c``. The files live on tmpfs when there is
one (/dev/shm) and are made once (1.1 million empty files: ~15 s), then reused.

    python tests/benchmarks/bench_memory.py [--sizes 10000 100000 1000000] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import HERE, byte_compile_batchmill, make_tiny_files  # noqa: E402

LIMIT_MIB = 150
GROWTH = 1.5


def peak_mib(work: Path, argv: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """(peak RSS MiB, wall s, exit code) of the main process of ``argv`` (run under rss_probe)."""
    out = work / "peak.txt"
    out.unlink(missing_ok=True)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, str(HERE / "rss_probe.py"), str(out), *argv], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        print(done.stderr[-2000:], file=sys.stderr)
    return int(out.read_text()) / 1024, wall, done.returncode


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--workers", type=int, default=2)
    shm = Path("/dev/shm")
    default_data = shm if shm.is_dir() and os.access(shm, os.W_OK) else Path(tempfile.gettempdir())
    parser.add_argument("--data", type=Path, default=default_data / "batchmill-bench-empty")
    args = parser.parse_args()
    byte_compile_batchmill()

    work = Path(tempfile.mkdtemp(prefix="batchmill-bench-mem-", dir=args.data.parent))
    env = {**os.environ, "BATCHMILL_HOME": str(work / "home")}
    rows = []
    ok = True
    for size in args.sizes:
        data = make_tiny_files(args.data / f"in{size}", size, size=0)
        figures = {}
        out = work / "out"
        figures["checksum"] = peak_mib(work, ["batchmill", "run", "checksum", str(data), "--output", str(out),
                                              "--workers", str(args.workers), "--quiet"], env)
        check = subprocess.run(["sha256sum", "-c", "--quiet", str(out / data.name / "SHA256SUMS")], cwd=data,
                               stdout=subprocess.DEVNULL)
        lines = sum(1 for _ in open(out / data.name / "SHA256SUMS", "rb"))
        ok &= check.returncode == 0 and lines >= size
        shutil.rmtree(out)
        figures["python no-op"] = peak_mib(work, [
            "batchmill", "run", "python", str(data), "--output", str(out), "--workers", str(args.workers),
            "--param", f"script={HERE / 'noop_work.py'}", "--quiet"], env)
        shutil.rmtree(out, ignore_errors=True)
        figures["plain Pool script"] = peak_mib(work, [str(HERE / "peer_pool.py"), str(data),
                                                       str(work / "peer.sums"), str(args.workers)], env)
        shutil.rmtree(work / "home", ignore_errors=True)  # each size starts from an empty journal
        rows.append((size, figures, check.returncode == 0 and lines >= size))
        print(f"{size:>9} files: " + ", ".join(f"{name} {mib:.0f} MiB ({wall:.1f} s)"
                                               for name, (mib, wall, _code) in figures.items())
              + f"; manifest verified by sha256sum -c: {'yes' if rows[-1][2] else 'NO'}", flush=True)
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        for name in ("checksum", "python no-op"):
            growth = last[1][name][0] / first[1][name][0]
            within = growth <= GROWTH and last[1][name][0] <= LIMIT_MIB
            ok &= within
            print(f"{name}: {last[0]:,} files {last[1][name][0]:.0f} MiB = {growth:.2f}x the {first[0]:,}-file "
                  f"figure (target <= {GROWTH}x and <= {LIMIT_MIB} MiB): {'yes' if within else 'NO'}")
        pool = last[1]["plain Pool script"][0]
        print(f"plain Pool script at {last[0]:,} files: {pool:.0f} MiB (checksum {last[1]['checksum'][0] / pool:.2f}x)")
    print(f"all within target: {'yes' if ok else 'NO'}")
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
