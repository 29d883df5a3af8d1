"""The job life cycle, in one table: the states a job can be in, which are final, which ones
are offered to be resumed, and which verbs each allows.

The engine, the journal's queries, the CLI and the window's buttons all read this table.
Two sets with one name (``RESUMABLE`` in core and in the window, meaning different things)
once made an interrupted job unreachable: the journal's "latest resumable" picked a newer
cancelled job, which the window then declined to offer.

    QUEUED ─▶ PLANNING ─▶ RUNNING ◀─▶ PAUSED
       │          │          │           │
       └──────────┴────┬─────┴───────────┘
                       ▼
      COMPLETED · CANCELLED · HALTED · INTERRUPTED · ERROR     (final)
                       │
      resume (cancelled, halted, interrupted, error) / retry (failed files) ─▶ QUEUED

An active state recorded in the journal by a process that has died reads as INTERRUPTED
(``JobRecord.shown_state``).

The engine applies resume, retry and forget on its own thread, reading the job's state there
and acting in the same step (``Engine.resume``/``retry``/``forget``): a check on the caller's
thread followed by an act on the engine's let two resumes of one job both run it. A verb the
state does not allow is refused in words (a ``VerbRefused`` event, and the JobError of the
caller's Future); the window's buttons read this table only to enable themselves.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class JobState(str, enum.Enum):
    """Life cycle of a job, as recorded in the journal and shown to people."""

    QUEUED = "queued"
    PLANNING = "planning"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"  # every file done, skipped or failed; nothing left to run
    CANCELLED = "cancelled"  # the operator stopped it; resumable by its id, never offered
    HALTED = "halted"  # stopped by the --halt-after policy; resumable
    INTERRUPTED = "interrupted"  # Ctrl-C or the process died; resumable
    ERROR = "error"  # the engine or the journal stopped it (a full disk), or it could not run at all;
    # resumable by its id once the cause is fixed, never offered

    @property
    def is_final(self) -> bool:
        return LIFECYCLE[self].final

    @property
    def is_active(self) -> bool:
        return not LIFECYCLE[self].final

    @property
    def is_resumable(self) -> bool:
        return Verb.RESUME in LIFECYCLE[self].verbs

    @property
    def is_offered(self) -> bool:
        return LIFECYCLE[self].offered

    def allows(self, verb: Verb, failed: int = 0) -> bool:
        """Whether ``verb`` applies to a job in this state; retry needs failed files to run again."""
        if verb is Verb.RETRY and failed <= 0:
            return False
        return verb in LIFECYCLE[self].verbs


class Verb(str, enum.Enum):
    """What an operator (window button, CLI command, API call) can ask of a job."""

    PAUSE = "pause"
    RESUME = "resume"  # un-pause, or continue a stopped job from the journal
    CANCEL = "cancel"
    RETRY = "retry"  # run the failed files again
    REMOVE = "remove"  # off the window's list (a queued job is cancelled first)
    FORGET = "forget"  # out of the journal for good: `batchmill jobs forget/prune`, the window's Remove


@dataclass(frozen=True)
class StateRule:
    final: bool  # nothing runs it any more (unless resumed or retried)
    offered: bool  # ended without the operator's choice: offered at start-up, `batchmill resume`'s default
    verbs: frozenset[Verb]


def _rule(final: bool, offered: bool, *verbs: Verb) -> StateRule:
    return StateRule(final, offered, frozenset(verbs))


LIFECYCLE: dict[JobState, StateRule] = {
    JobState.QUEUED: _rule(False, False, Verb.CANCEL, Verb.REMOVE),
    JobState.PLANNING: _rule(False, False, Verb.CANCEL),
    JobState.RUNNING: _rule(False, False, Verb.PAUSE, Verb.CANCEL),
    JobState.PAUSED: _rule(False, False, Verb.RESUME, Verb.CANCEL),
    JobState.COMPLETED: _rule(True, False, Verb.RETRY, Verb.REMOVE, Verb.FORGET),
    JobState.CANCELLED: _rule(True, False, Verb.RESUME, Verb.RETRY, Verb.REMOVE, Verb.FORGET),
    JobState.HALTED: _rule(True, True, Verb.RESUME, Verb.RETRY, Verb.REMOVE, Verb.FORGET),
    JobState.INTERRUPTED: _rule(True, True, Verb.RESUME, Verb.RETRY, Verb.REMOVE, Verb.FORGET),
    JobState.ERROR: _rule(True, False, Verb.RESUME, Verb.RETRY, Verb.REMOVE, Verb.FORGET),
}

FINAL_STATES = frozenset(state for state, rule in LIFECYCLE.items() if rule.final)
ACTIVE_STATES = frozenset(state for state, rule in LIFECYCLE.items() if not rule.final)
RESUMABLE_STATES = frozenset(state for state, rule in LIFECYCLE.items() if Verb.RESUME in rule.verbs)
OFFERED_STATES = frozenset(state for state, rule in LIFECYCLE.items() if rule.offered)

__all__ = ["ACTIVE_STATES", "FINAL_STATES", "LIFECYCLE", "OFFERED_STATES", "RESUMABLE_STATES", "JobState",
           "StateRule", "Verb"]
