"""GeoTIFFs: ``batchmill run raster`` vs ``gdalwarp`` through ``xargs -P``, in the same run.

40 GeoTIFFs (1024 × 1024, three 16-bit bands, UTM 33N, nodata) reprojected to EPSG:3857 with
bilinear resampling, written as tiled (512) deflate GeoTIFFs with the horizontal predictor, the same
number of workers (processes) for both, each timed as a whole command, rounds alternating. Run on
demand:

    python tests/benchmarks/bench_raster.py [--rasters 40] [--rounds 3] [--workers 2]

Needs rasterio (``pip install -e '.[raster]'``) and ``gdalwarp`` (Debian's gdal-bin). Note that the
two use different GDAL builds: rasterio's wheel bundles its own, gdalwarp is Debian's.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import batchmill_command, best_of, time_command  # noqa: E402

SIDE = 1024


def make_raster(path: Path) -> None:
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    index = int(path.stem.split("_")[1])
    y, x = np.mgrid[0:SIDE, 0:SIDE]
    rng = np.random.default_rng(index)
    bands = [((x + y + index) % 4096), (x * 3 % 4096), (y * 5 % 4096)]
    data = np.stack([b + rng.integers(0, 64, b.shape) for b in bands]).astype("uint16")
    data[:, :64, :64] = 0
    profile = dict(driver="GTiff", width=SIDE, height=SIDE, count=3, dtype="uint16", crs="EPSG:32633",
                   transform=from_origin(400000 + index * 61440, 5200000, 30, 30), nodata=0, tiled=True,
                   blockxsize=512, blockysize=512, compress="deflate", predictor=2)
    with rasterio.open(path, "w", **profile) as out:
        out.write(data)


def make_rasters(folder: Path, count: int, workers: int) -> Path:
    marker = folder / f".made-{count}-{SIDE}"
    if marker.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        pool.map(make_raster, [folder / f"scene_{i:03d}.tif" for i in range(count)])
    marker.touch()
    return folder


def xargs_gdalwarp(rasters: Path, out: Path, workers: int) -> list[str]:
    out.mkdir(parents=True, exist_ok=True)
    warp = ("gdalwarp -q -t_srs EPSG:3857 -r bilinear -co COMPRESS=DEFLATE -co PREDICTOR=2 -co TILED=YES "
            "-co BLOCKXSIZE=512 -co BLOCKYSIZE=512 -co BIGTIFF=IF_SAFER")
    script = (f"find {rasters} -name '*.tif' -print0 | xargs -0 -P{workers} -I{{}} "
              f"sh -c '{warp} \"$1\" \"{out}/$(basename \"$1\")\"' _ {{}}")
    return ["sh", "-c", script]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rasters", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "batchmill-bench-rasters")
    args = parser.parse_args()
    if shutil.which("gdalwarp") is None:
        sys.exit("gdalwarp is missing: apt-get install gdal-bin")

    rasters = make_rasters(args.data, args.rasters, args.workers)
    work = Path(tempfile.mkdtemp(prefix="batchmill-bench-"))
    env = {**os.environ, "BATCHMILL_HOME": str(work / "home")}
    ours, peer = [], []
    for round_ in range(args.rounds):
        ours.append(time_command(batchmill_command() + [
            "run", "raster", str(rasters), "--output", str(work / f"ours{round_}"), "--workers", str(args.workers),
            "--include", "*.tif", "--param", "crs=EPSG:3857", "--param", "resampling=bilinear", "--param",
            "compression=deflate",
            "--quiet"], env))
        peer.append(time_command(xargs_gdalwarp(rasters, work / f"peer{round_}", args.workers)))
    made = (len(list((work / "ours0").rglob("*.tif"))), len(list((work / "peer0").glob("*.tif"))))
    print(f"rasters: {args.rasters} x {SIDE}x{SIDE}x3 uint16 -> EPSG:3857 bilinear deflate, "
          f"workers: {args.workers}, rounds: {args.rounds}")
    print(f"batchmill run raster   : {best_of(ours)}")
    print(f"xargs -P gdalwarp      : {best_of(peer)}")
    print(f"ratio (best/best)      : {min(ours) / min(peer):.2f}x   (target <= 1.20x)")
    print(f"outputs made (first round): ours {made[0]}, gdalwarp {made[1]}")
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if made[0] == made[1] == args.rasters else 1)


if __name__ == "__main__":
    main()
