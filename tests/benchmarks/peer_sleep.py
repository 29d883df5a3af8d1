"""The plain Pool script an operator would write for a few long files (spawn, imap_unordered,
one file a task), for bench_long_files.py.

usage: python peer_sleep.py FOLDER WORKERS SECONDS
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time


def work(args: tuple[str, float]) -> str:
    time.sleep(args[1])
    return args[0]


def main() -> None:
    folder, workers, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    files = [(os.path.join(folder, name), seconds) for name in sorted(os.listdir(folder))]
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        list(pool.imap_unordered(work, files, chunksize=1))


if __name__ == "__main__":
    main()
