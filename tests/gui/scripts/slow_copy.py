"""A processor for GUI tests: copies each file after a pause, and notes every call."""

import shutil
import time
from pathlib import Path


def process(src: Path, dst: Path, delay: float = 0.1, calls_log: str = "") -> None:
    time.sleep(delay)
    shutil.copyfile(src, dst)
    if calls_log:
        with open(calls_log, "a", encoding="utf-8") as log:
            log.write(src.name + "\n")
