"""Photos: ``batchmill run image`` on libvips vs a plain Pool + Pillow script vs ``vipsthumbnail``
through ``xargs -P``, in the same run.

48 photos of 12 MP (4000 × 3000 JPEG) → JPEG of at most 1600 px, quality 90, the same number of
workers for all, each timed as a whole command, rounds alternating so machine noise hits every
one alike. Batchmill on Pillow (``library=pillow``) is timed too. Run on demand:

    python tests/benchmarks/bench_image.py [--photos 48] [--rounds 3] [--workers 2]

Needs pyvips (``pip install -e '.[vips]'``) and ``vipsthumbnail`` (Debian's libvips-tools).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import HERE, batchmill_command, best_of, time_command  # noqa: E402

SIZE = 1600


def make_photo(path: Path) -> None:
    from PIL import Image

    seed = sum(path.name.encode())
    width, height = 4000, 3000
    red = Image.linear_gradient("L").rotate(seed % 360).resize((width, height))
    green = Image.radial_gradient("L").resize((width, height))
    blue = Image.effect_noise((width, height), 30 + seed % 20)
    Image.merge("RGB", (red, green, blue)).save(path, quality=90)


def make_photos(folder: Path, count: int, workers: int) -> Path:
    marker = folder / f".made-{count}"
    if marker.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        pool.map(make_photo, [folder / f"IMG_{i:04d}.jpg" for i in range(count)])
    marker.touch()
    return folder


def xargs_vipsthumbnail(photos: Path, out: Path, workers: int) -> list[str]:
    out.mkdir(parents=True, exist_ok=True)
    script = (f"find {photos} -name '*.jpg' -print0 | xargs -0 -P{workers} -n 4 "
              f"vipsthumbnail --size {SIZE} -o '{out}/%s.jpg[Q=90]'")
    return ["sh", "-c", script]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=int, default=48)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "batchmill-bench-photos")
    args = parser.parse_args()
    if shutil.which("vipsthumbnail") is None:
        sys.exit("vipsthumbnail is missing: apt-get install libvips-tools")

    photos = make_photos(args.data, args.photos, args.workers)
    work = Path(tempfile.mkdtemp(prefix="batchmill-bench-"))
    env = {**os.environ, "BATCHMILL_HOME": str(work / "home")}
    times: dict[str, list[float]] = {"vips": [], "pillow": [], "pool": [], "vipsthumbnail": []}
    for round_ in range(args.rounds):
        for library in ("vips", "pillow"):
            times[library].append(time_command(batchmill_command() + [
                "run", "image", str(photos), "--output", str(work / f"{library}{round_}"), "--workers",
                str(args.workers), "--include", "*.jpg", "--param", "format=jpeg", "--param", f"max_size={SIZE}",
                "--param", "quality=90",
                "--param", f"library={library}", "--quiet"], env))
        times["pool"].append(time_command([sys.executable, str(HERE / "peer_pillow.py"), str(photos),
                                           str(work / f"pool{round_}"), str(args.workers), str(SIZE)]))
        times["vipsthumbnail"].append(time_command(xargs_vipsthumbnail(photos, work / f"thumb{round_}",
                                                                       args.workers)))
    made = {name: len(list((work / f"{name}0").rglob("*.jpg"))) for name in ("vips", "pillow", "pool", "thumb")}
    print(f"photos: {args.photos} x 12 MP JPEG -> JPEG {SIZE} px, workers: {args.workers}, rounds: {args.rounds}")
    print(f"batchmill image, libvips : {best_of(times['vips'])}")
    print(f"batchmill image, Pillow  : {best_of(times['pillow'])}")
    print(f"Pool + Pillow script     : {best_of(times['pool'])}")
    print(f"xargs -P vipsthumbnail   : {best_of(times['vipsthumbnail'])}")
    best = {name: min(values) for name, values in times.items()}
    print(f"libvips / Pool+Pillow    : {best['vips'] / best['pool']:.2f}x   (target <= 0.60x)")
    print(f"libvips / vipsthumbnail  : {best['vips'] / best['vipsthumbnail']:.2f}x")
    print(f"Pillow  / Pool+Pillow    : {best['pillow'] / best['pool']:.2f}x")
    print(f"outputs made (first round): {made}")
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if len(set(made.values())) == 1 else 1)


if __name__ == "__main__":
    main()
