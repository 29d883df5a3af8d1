"""The peer every Batchmill benchmark is measured against: the plain multiprocessing.Pool
script an operator would write by hand (spawn, imap_unordered, chunksize 64).

usage: python peer_pool.py FOLDER MANIFEST WORKERS
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import sys


def sha256(path: str) -> tuple[str, str]:
    with open(path, "rb") as handle:
        return path, hashlib.sha256(handle.read()).hexdigest()


def walk(folder: str) -> list[str]:
    return [os.path.join(root, name) for root, _dirs, names in os.walk(folder) for name in names]


def main() -> None:
    folder, manifest, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers) as pool:
        results = list(pool.imap_unordered(sha256, walk(folder), chunksize=64))
    lines = sorted(f"{digest}  {os.path.relpath(path, folder)}\n" for path, digest in results)
    with open(manifest, "w") as handle:
        handle.writelines(lines)


if __name__ == "__main__":
    main()
