"""The statuses and kinds the database accepts, in one place."""

from __future__ import annotations

from typing import Literal, get_args

RUN_STATUSES = frozenset(
    {"queued", "running", "waiting_feedback", "finalizing", "succeeded", "failed", "cancelled"}
)
TERMINAL_RUN_STATUSES = frozenset({"succeeded", "failed", "cancelled"})
# A worker holds a lease on runs in these statuses; an expired lease can be taken over.
LEASED_RUN_STATUSES = frozenset({"running", "waiting_feedback", "finalizing"})

ITERATION_STATUSES = frozenset({"proposing", "training", "waiting_feedback", "done"})

# queued: claimed for this run's training, waiting for a sandbox slot; training once
# the sandbox reports its first steps. screened: its returns on the archive of evaluated
# episodes ranked them too unlike the fitness, so it never trained (app.evolution.screening).
CandidateStatus = Literal[
    "pending",
    "queued",
    "training",
    "evaluating",
    "done",
    "invalid",
    "failed",
    "stopped",
    "screened",
]
CANDIDATE_STATUSES = frozenset(get_args(CandidateStatus))
# Work under way that a dead worker leaves behind; it goes back to pending on resume.
UNFINISHED_CANDIDATE_STATUSES = frozenset({"queued", "training", "evaluating"})

# A comparison of two candidates' behaviour: one preferred over the other, a tie
# (equally good) or both bad; every kind names both candidates.
COMPARISON_KINDS = frozenset({"preference", "tie", "both_bad"})
FEEDBACK_KINDS = frozenset({"text", "parent", "continue"}) | COMPARISON_KINDS


def check_status(status: str, allowed: frozenset[str], what: str) -> None:
    """Raise ValueError naming the allowed values when ``status`` is not one of them."""
    if status not in allowed:
        raise ValueError(f"unknown {what} {status!r}; expected one of {sorted(allowed)}")
