"""A processor for GUI tests: reports half-way progress, then lingers on files named slow*."""

import shutil
import time
from pathlib import Path


def process(src: Path, dst: Path, context, linger: float = 3.0) -> None:
    context.progress(0.5, "half-way")
    if src.name.startswith("slow"):
        time.sleep(linger)
    shutil.copyfile(src, dst)
