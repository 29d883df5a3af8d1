"""How far a job has got, told truthfully: one computation for the CLI and the window.

- The **total** never makes a bar shrink. While the inputs are still being scanned, the scan's
  count is only "files found so far": the best total is the larger of it and any count made
  beforehand (the window counts a dropped folder in the background). With no such count the
  total is unknown and a front end says "scanning… N found" rather than a percentage of a
  number that will grow.
- The **rate** is files finished over a recent window of *running* time: paused time does not
  count (the clock stops), and the start of a long job does not weigh on its end (a 2-minute
  pause once read 0.3 files/s, and a job running at 9 files/s read 1.2).
- The **ETA** is what is left of the best total at that rate; none while the total is unknown.

Pure bookkeeping with an injectable clock, so the tests drive it without sleeping.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

RATE_WINDOW_S = 10.0  # of running time: long enough to smooth batches, short enough to follow a change
MIN_SPAN_S = 0.5  # less running time than this says nothing yet about the rate
MAX_SAMPLES = 256
SUSPENDED_GAP_S = 5.0  # see RunningClock


class RunningClock:
    """Seconds of running time: a monotonic clock that stops while the job is paused, and that
    leaves out a gap longer than SUSPENDED_GAP_S between two readings: the engine reads it every
    tenth of a second while a job runs, so such a gap is a process stopped from outside (Ctrl-Z,
    SIGSTOP, a suspended laptop), not time the job spent working."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._banked = 0.0  # running time before the current run
        self._since: float | None = None  # when the current run began; None while stopped
        self._last = 0.0  # the raw clock at the last reading
        self._lost = 0.0  # gaps of the current run left out

    @property
    def running(self) -> bool:
        return self._since is not None

    def start(self) -> None:
        if self._since is None:
            self._since = self._last = self._clock()
            self._lost = 0.0

    def stop(self) -> None:
        if self._since is not None:
            self._banked = self.now()
            self._since = None

    def now(self) -> float:
        if self._since is None:
            return self._banked
        raw = self._clock()
        if raw - self._last > SUSPENDED_GAP_S:
            self._lost += raw - self._last
        self._last = raw
        return self._banked + raw - self._since - self._lost


class RateMeter:
    """Files per second over the last RATE_WINDOW_S of running time."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, window_s: float = RATE_WINDOW_S) -> None:
        self.clock = RunningClock(clock)
        self.window_s = window_s
        self._samples: deque[tuple[float, int]] = deque()  # (running time, files finished), oldest first

    def set_running(self, running: bool, finished: int = 0) -> None:
        """Start or stop the clock; ``finished``: the files finished so far, when it starts."""
        if running:
            self.clock.start()
            self.observe(finished)  # the window measures from here (the first start: from zero)
        else:
            self.clock.stop()

    def observe(self, finished: int) -> None:
        """Note the number of files finished so far (in this session); cheap, call it often."""
        now = self.clock.now()
        samples = self._samples
        if len(samples) > 1 and now - samples[-2][0] < self.window_s / MAX_SAMPLES:
            samples[-1] = (now, finished)  # close to the one before: the newest replaces it
        else:
            samples.append((now, finished))
        # Keep one sample at or before the window's start, so the window is always full width.
        while len(samples) > 2 and samples[1][0] <= now - self.window_s:
            samples.popleft()

    def rate(self) -> float:
        """Files per second of running time; 0.0 until MIN_SPAN_S of running time has been seen."""
        samples = self._samples
        if len(samples) < 2:
            return 0.0
        (t0, n0), (t1, n1) = samples[0], samples[-1]
        now = self.clock.now()
        span = max(now, t1) - t0
        if span < MIN_SPAN_S:
            return 0.0
        return max(0, n1 - n0) / span


def best_total(scanned: int, scanning: bool, counted: int | None = None) -> int | None:
    """The total to show: the scan's once it is complete; while it runs, the larger of the files
    found so far and a count made beforehand (None when there is no such count: unknown)."""
    if not scanning:
        return scanned
    if counted is None:
        return None
    return max(scanned, counted)


def eta_s(total: int | None, finished: int, files_per_s: float) -> float | None:
    """Seconds left at the current rate; None when the total or the rate is unknown."""
    if total is None or files_per_s <= 0:
        return None
    return max(0, total - finished) / files_per_s


def format_eta(seconds: float) -> str:
    """``"42 s"``, ``"3:05"``, ``"1:02:03"``."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    hours, rest = divmod(int(round(seconds)), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@dataclass(frozen=True)
class ProgressView:
    """What a front end shows for a job: the fraction only when the total is known."""

    total: int | None
    finished: int
    files_per_s: float
    eta_s: float | None

    @property
    def fraction(self) -> float | None:
        if self.total is None:
            return None
        if self.total <= 0:
            return 1.0
        return min(1.0, self.finished / self.total)


def view(scanned: int, finished: int, scanning: bool, files_per_s: float,
         counted: int | None = None) -> ProgressView:
    total = best_total(scanned, scanning, counted)
    return ProgressView(total, finished, files_per_s, eta_s(total, finished, files_per_s))


__all__ = ["ProgressView", "RateMeter", "RunningClock", "best_total", "eta_s", "format_eta", "view"]
