"""A processor for GUI tests: files named bad* fail until the file ``fixed_flag`` exists."""

import shutil
from pathlib import Path


def process(src: Path, dst: Path, fixed_flag: str, calls_log: str = "") -> None:
    if calls_log:
        with open(calls_log, "a", encoding="utf-8") as log:
            log.write(src.name + "\n")
    if src.name.startswith("bad") and not Path(fixed_flag).exists():
        raise ValueError(f"cannot process {src.name}: it is marked bad")
    shutil.copyfile(src, dst)
