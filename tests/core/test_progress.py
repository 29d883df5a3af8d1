"""Progress that never lies, on a fake clock: paused time is not running time, the rate follows
the recent past, the total never shrinks while the scan runs."""

from __future__ import annotations

import pytest

from batchmill.core.progress import RateMeter, best_total, eta_s, view


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def run_at(meter: RateMeter, clock: FakeClock, finished: int, files_per_s: float, seconds: float,
           step: float = 0.1) -> int:
    """Files finish at a steady rate for ``seconds``; the meter is told every ``step``."""
    steps = round(seconds / step)
    for n in range(1, steps + 1):
        clock.t += step
        meter.observe(finished + int(files_per_s * step * n))
    return finished + int(files_per_s * step * steps)


def test_a_pause_does_not_lower_the_rate() -> None:
    clock = FakeClock()
    meter = RateMeter(clock)
    meter.set_running(True, 0)
    finished = run_at(meter, clock, 0, 10, 20)
    assert meter.rate() == pytest.approx(10, rel=0.05)
    meter.set_running(False)
    clock.t += 120  # a two-minute pause
    meter.observe(finished)
    assert meter.rate() == pytest.approx(10, rel=0.05), "paused time is not running time"
    meter.set_running(True, finished)
    run_at(meter, clock, finished, 10, 5)
    assert meter.rate() == pytest.approx(10, rel=0.05)


def test_a_process_stopped_from_outside_does_not_lower_the_rate() -> None:
    # Ctrl-Z then fg: nothing ran, though the monotonic clock went on.
    clock = FakeClock()
    meter = RateMeter(clock)
    meter.set_running(True, 0)
    finished = run_at(meter, clock, 0, 10, 10)
    clock.t += 30
    finished = run_at(meter, clock, finished, 10, 5)
    assert meter.rate() == pytest.approx(10, rel=0.05)


def test_the_rate_follows_the_recent_past_not_the_whole_job() -> None:
    clock = FakeClock()
    meter = RateMeter(clock)
    meter.set_running(True, 0)
    finished = run_at(meter, clock, 0, 1, 60)  # a slow start: one file a second for a minute
    finished = run_at(meter, clock, finished, 9, 12)  # then nine a second
    assert meter.rate() == pytest.approx(9, rel=0.1)


def test_no_rate_before_half_a_second_of_running_time() -> None:
    clock = FakeClock()
    meter = RateMeter(clock)
    meter.set_running(True, 0)
    clock.t += 0.2
    meter.observe(5)
    assert meter.rate() == 0.0


def test_the_rate_decays_while_nothing_finishes() -> None:
    clock = FakeClock()
    meter = RateMeter(clock)
    meter.set_running(True, 0)
    finished = run_at(meter, clock, 0, 10, 10)
    run_at(meter, clock, finished, 0, 6)  # the engine goes on reading the clock: nothing finishes
    assert meter.rate() < 5


@pytest.mark.parametrize(("scanned", "scanning", "counted", "expected"), [
    (512, True, 100_000, 100_000),  # the window's count is further than the scan
    (29_952, True, None, None),  # nothing counted beforehand: unknown, not "29,952"
    (100_000, False, None, 100_000),  # the scan is complete: its count
    (99_990, False, 100_000, 99_990),  # ... even if files went away since they were counted
    (100_010, True, 100_000, 100_010),  # files added since the count
])
def test_the_best_total(scanned: int, scanning: bool, counted: int | None, expected: int | None) -> None:
    assert best_total(scanned, scanning, counted) == expected


def test_the_fraction_never_goes_back_while_the_scan_runs() -> None:
    fractions = []
    finished = 0
    for scanned in range(512, 100_000, 4096):
        finished = min(scanned, finished + 3000)
        shown = view(scanned, finished, True, 100.0, counted=100_000)
        assert shown.total == 100_000
        assert shown.fraction is not None
        fractions.append(shown.fraction)
    assert fractions == sorted(fractions)
    assert view(30_000, 27_000, True, 100.0).fraction is None, "no percentage of files found so far"


def test_eta() -> None:
    assert eta_s(100, 40, 6.0) == pytest.approx(10.0)
    assert eta_s(None, 40, 6.0) is None
    assert eta_s(100, 40, 0.0) is None
