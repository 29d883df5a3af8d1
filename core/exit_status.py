"""The exit statuses of ``batchmill run``/``resume``/``retry`` and ``batchmill gui --exit-when-done``,
and of ``JobResult.exit_status`` in the API: one table, read by all three.

| status | meaning |
| --- | --- |
| 0 | every file done or skipped |
| 1 | some files failed |
| 2 | the job could not start: a bad command line, unknown processor, missing input, bad parameter |
| 4 | nothing to do: the inputs (after ``--include``/``--exclude``) hold no file |
| 130 | interrupted or cancelled (the journal keeps the state: ``batchmill resume``) |
"""

from __future__ import annotations

from batchmill.core.lifecycle import JobState

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NO_FILES = 4  # 3 is the launcher's "a worker process reached the app's entry point"
EXIT_INTERRUPTED = 130


def exit_status(state: JobState, total: int, failed: int) -> int:
    """The status a finished job exits with."""
    if state is JobState.ERROR:
        return EXIT_USAGE
    if state in (JobState.INTERRUPTED, JobState.CANCELLED):
        return EXIT_INTERRUPTED
    if failed:
        return EXIT_FAILED
    if state is JobState.COMPLETED and total == 0:
        return EXIT_NO_FILES
    return EXIT_OK
