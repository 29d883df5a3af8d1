"""Run a command's Python entry in this process and write its peak RSS (VmHWM, KiB) to a file:
the main process alone, not its workers (bench_memory.py).

usage: python rss_probe.py OUTFILE batchmill ARGS...   |   python rss_probe.py OUTFILE SCRIPT.py ARGS...
"""

from __future__ import annotations

import atexit
import runpy
import sys
from pathlib import Path


def write_peak(out: Path) -> None:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            out.write_text(line.split()[1])


def main() -> None:
    out, target, args = Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
    atexit.register(write_peak, out)
    if target == "batchmill":
        from batchmill.gui.launcher import main as batchmill_main

        sys.argv = ["batchmill", *args]
        code = batchmill_main()
        write_peak(out)
        sys.exit(code)
    sys.argv = [target, *args]
    runpy.run_path(target, run_name="__main__")


if __name__ == "__main__":
    main()
