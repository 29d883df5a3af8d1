"""The Dask backend against the local pool, both as whole ``batchmill run`` commands:

1. CPU-bound: the ``python`` processor with ~50 ms of pure-Python work per file, 200 files, on a
   2-worker LocalCluster (``--backend dask --workers 2``) vs the local pool (``--workers 2``).
2. Tiny files: ``checksum`` over 20,000 files of 4 KiB, Dask vs local; the overhead is split into
   the fixed cost (a one-file job: cluster start-up and shut-down) and the cost per file.

    python tests/benchmarks/bench_dask.py [--files 200] [--rounds 550000] [--tiny 20000] [--repeat 3]
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
from common import HERE, batchmill_command, best_of, make_tiny_files, time_command  # noqa: E402


def run(work: Path, env: dict[str, str], args: list[str], backend: str, out: str) -> float:
    extra = ["--backend", "dask"] if backend == "dask" else []
    return time_command(batchmill_command() + ["run", *args, "--output", str(work / out), "--workers", "2",
                                               "--quiet", *extra], env)


def same_tree(a: Path, b: Path) -> bool:
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    return bool(files_a) and files_a == files_b and all((a / f).read_bytes() == (b / f).read_bytes() for f in files_a)


def bench_cpu(work: Path, env: dict[str, str], files: int, rounds: int) -> bool:
    data = work / "cpu"
    data.mkdir()
    for i in range(files):
        (data / f"f{i:04d}.txt").write_bytes(os.urandom(64))
    sys.path.insert(0, str(HERE))
    import cpu_work

    start = time.perf_counter()
    cpu_work.process(data / "f0000.txt", work / "probe.out", rounds)
    per_file = time.perf_counter() - start
    job = ["python", str(data), "--param", f"script={HERE / 'cpu_work.py'}", "--param", f"rounds={rounds}"]
    local = run(work, env, job, "local", "cpu-local")
    dask = run(work, env, job, "dask", "cpu-dask")
    same = same_tree(work / "cpu-local", work / "cpu-dask")
    print(f"CPU-bound: {files} files, ~{per_file * 1000:.0f} ms of work each (measured here), 2 workers")
    print(f"  local pool           : {local:.2f} s")
    print(f"  Dask LocalCluster    : {dask:.2f} s")
    print(f"  ratio dask/local     : {dask / local:.2f}x")
    print(f"  outputs identical    : {'yes' if same else 'NO'}")
    return same


def bench_tiny(work: Path, env: dict[str, str], count: int, repeat: int) -> bool:
    data = make_tiny_files(Path(tempfile.gettempdir()) / "batchmill-bench-tiny" / "in", count)
    one = work / "one"
    one.mkdir()
    (one / "only.bin").write_bytes(os.urandom(4096))
    times: dict[tuple[str, str], list[float]] = {}
    for round_ in range(repeat):
        for backend in ("local", "dask"):  # alternating, so machine noise hits both
            for name, folder in (("many", data), ("one", one)):
                out = f"tiny-{backend}-{name}-{round_}"
                times.setdefault((backend, name), []).append(run(work, env, ["checksum", str(folder)], backend, out))
    same = same_tree(work / "tiny-local-many-0", work / "tiny-dask-many-0")
    best = {key: min(values) for key, values in times.items()}
    fixed = best[("dask", "one")] - best[("local", "one")]
    per_file = ((best[("dask", "many")] - best[("dask", "one")]) - (best[("local", "many")] - best[("local", "one")]))
    print(f"Tiny files: checksum over {count} files of 4 KiB, 2 workers, best of {repeat}")
    print(f"  local pool           : {best_of(times[('local', 'many')])}")
    print(f"  Dask LocalCluster    : {best_of(times[('dask', 'many')])}")
    print(f"  ratio dask/local     : {best[('dask', 'many')] / best[('local', 'many')]:.2f}x")
    print(f"  one-file job         : local {best[('local', 'one')]:.2f} s, dask {best[('dask', 'one')]:.2f} s "
          f"-> fixed Dask overhead {fixed:.2f} s (cluster start and stop)")
    print(f"  Dask overhead / file : {per_file / count * 1e6:.0f} us ({per_file:.2f} s over {count} files)")
    print(f"  manifests identical  : {'yes' if same else 'NO'}")
    return same


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=200, help="files of the CPU-bound job")
    parser.add_argument("--rounds", type=int, default=550_000, help="loop rounds per file (~50 ms at 550000)")
    parser.add_argument("--tiny", type=int, default=20_000, help="files of the tiny-file job")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the tiny-file job per backend")
    args = parser.parse_args()
    try:
        import distributed  # noqa: F401
    except ImportError:
        sys.exit("this benchmark needs the dask extra: pip install 'batchmill[dask]'")

    work = Path(tempfile.mkdtemp(prefix="batchmill-bench-dask-"))
    env = {**os.environ, "BATCHMILL_HOME": str(work / "home")}
    try:
        ok = bench_cpu(work, env, args.files, args.rounds)
        ok = bench_tiny(work, env, args.tiny, args.repeat) and ok
    finally:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
