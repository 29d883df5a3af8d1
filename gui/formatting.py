"""How numbers, durations and states read in the window (one wording everywhere)."""

from __future__ import annotations

from batchmill.core.events import JobState

STATE_WORDS = {
    JobState.QUEUED: "queued",
    JobState.PLANNING: "scanning",
    JobState.RUNNING: "running",
    JobState.PAUSED: "paused",
    JobState.COMPLETED: "completed",
    JobState.CANCELLED: "cancelled",
    JobState.HALTED: "halted",
    JobState.INTERRUPTED: "interrupted",
    JobState.ERROR: "error",
}


def format_count(n: int) -> str:
    return f"{n:,}"


def format_rate(files_per_s: float) -> str:
    if files_per_s <= 0:
        return ""
    if files_per_s < 10:
        return f"{files_per_s:.1f}"
    return f"{files_per_s:,.0f}"


def format_duration(seconds: float | None) -> str:
    """``"42 s"``, ``"3:05"``, ``"1:02:03"``; empty when unknown."""
    if seconds is None or seconds < 0:
        return ""
    if seconds < 60:
        return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def describe_state(state: JobState) -> str:
    return STATE_WORDS[state]


def describe_outcome(state: JobState, failed: int) -> str:
    """A state as a row reads it: a job that completed with failures says so ("completed,
    44 failed"), never a plain "completed" over a full bar."""
    if state is JobState.COMPLETED and failed:
        return f"completed, {failed:,} failed"
    return STATE_WORDS[state]


WIDEST_OUTCOME = "completed, 99 failed"  # the State column is wide enough for this (longer: see its tooltip)
