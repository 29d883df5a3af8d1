"""The plain script an operator writes for a folder of photos: Pool + Pillow, JPEG at most SIZE px.

    python peer_pillow.py IN_DIR OUT_DIR WORKERS SIZE
"""

from __future__ import annotations

import multiprocessing
import sys
from pathlib import Path


def shrink(job: tuple[str, str, int]) -> None:
    from PIL import Image, ImageOps

    src, out, size = job
    with Image.open(src) as im:
        im.thumbnail((size, size))  # decodes JPEGs at a reduced scale first (draft), then resizes
        im = ImageOps.exif_transpose(im)
        im.convert("RGB").save(Path(out) / Path(src).name, "JPEG", quality=90)


if __name__ == "__main__":
    src_dir, out_dir, workers, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    jobs = [(str(p), out_dir, size) for p in sorted(Path(src_dir).glob("*.jpg"))]
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        for _ in pool.imap_unordered(shrink, jobs, chunksize=1):
            pass
