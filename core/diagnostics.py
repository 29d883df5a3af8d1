"""Facts a support request should quote: version, frozen or not, start method, worker executable."""

from __future__ import annotations

import platform
import sys
from dataclasses import asdict, dataclass

from batchmill.core import __version__
from batchmill.core.bootstrap import is_frozen, workers_executable


@dataclass(frozen=True)
class Diagnostics:
    version: str
    frozen: bool
    start_method: str
    workers_executable: str
    python: str
    platform: str
    executable: str

    def lines(self) -> list[str]:
        return [f"Batchmill {self.version}",
                f"frozen: {'yes' if self.frozen else 'no'}",
                f"start method: {self.start_method}",
                f"worker executable: {self.workers_executable}",
                f"Python {self.python} on {self.platform}",
                f"program: {self.executable}"]

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def collect(start_method: str = "spawn") -> Diagnostics:
    return Diagnostics(__version__, is_frozen(), start_method, workers_executable(),
                       platform.python_version(), platform.platform(terse=True), sys.executable)
