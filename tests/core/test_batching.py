"""Batch sizes follow the measured time per file (batchmill.core.batching)."""

from __future__ import annotations

from batchmill.core.batching import FIRST_BATCH, MAX_BATCH, TARGET_S, BatchSizer


def test_the_first_batch_is_small_until_a_file_has_been_timed() -> None:
    assert BatchSizer().size(workers=2, remaining=100_000) == FIRST_BATCH


def test_tiny_files_go_out_in_large_batches_up_to_the_cap() -> None:
    sizer = BatchSizer()
    sizer.observe(batch_seconds=4 * 12e-6, files=4)  # 12 µs a file
    assert sizer.size(workers=2, remaining=100_000) == MAX_BATCH


def test_a_batch_lasts_about_the_target_time() -> None:
    sizer = BatchSizer()
    sizer.observe(batch_seconds=0.01, files=10)  # 1 ms a file
    assert sizer.size(workers=2, remaining=100_000) == int(TARGET_S / 0.001)


def test_slow_files_go_one_at_a_time() -> None:
    sizer = BatchSizer()
    sizer.observe(batch_seconds=2.0, files=1)
    assert sizer.size(workers=2, remaining=100_000) == 1


def test_the_last_files_are_spread_over_every_worker() -> None:
    sizer = BatchSizer()
    sizer.observe(batch_seconds=4 * 12e-6, files=4)
    assert sizer.size(workers=4, remaining=800) == 100  # two batches each for four workers


def test_the_estimate_follows_a_change_of_pace_smoothly() -> None:
    sizer = BatchSizer()
    sizer.observe(0.001, 1)
    sizer.observe(0.101, 1)  # one slow file among fast ones moves the estimate, not to 0.1 s at once
    assert 0.001 < (sizer.per_file_s or 0) < 0.05
    for _ in range(50):
        sizer.observe(0.1, 1)
    assert abs((sizer.per_file_s or 0) - 0.1) < 0.001
