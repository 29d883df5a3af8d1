"""How many files go to a worker at once, from the measured time per file.

A batch should last about TARGET_S: long enough that IPC is a small share of
the work on tiny files (plain-Pool speed), short enough that progress stays
live, a crash re-queues little, and the last files spread over all workers.
"""

from __future__ import annotations

TARGET_S = 0.05
# Until a file has been timed, one file a batch: the job may be four rasters of ten minutes each,
# and a batch of four would put them all on one worker. Tiny files pay this for one round trip.
FIRST_BATCH = 1
# With two batches in hand per worker, 2048 tiny files (~25 ms at 12 µs each) keep a worker
# busy through the engine's longer steps (a journal write, a scan step); 512 let them run dry.
MAX_BATCH = 2048
SMOOTHING = 0.2


class BatchSizer:
    def __init__(self) -> None:
        self.per_file_s: float | None = None

    def observe(self, batch_seconds: float, files: int) -> None:
        if files <= 0:
            return
        sample = batch_seconds / files
        if self.per_file_s is None:
            self.per_file_s = sample
        else:
            self.per_file_s += SMOOTHING * (sample - self.per_file_s)

    def size(self, workers: int, remaining: int, target_s: float = TARGET_S) -> int:
        if self.per_file_s is None:
            return FIRST_BATCH
        wanted = int(target_s / max(self.per_file_s, 1e-6))
        tail = max(1, remaining // (2 * max(1, workers)))
        return max(1, min(wanted, MAX_BATCH, tail))
