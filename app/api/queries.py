"""Read-only queries the API needs beyond the repository's functions."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db.models import Candidate, Feedback, Iteration, LLMCall, Run

FINISHED_CANDIDATE_STATUSES = ("done", "invalid", "failed", "stopped")
FINISHED_ITERATION_STATUSES = ("done", "waiting_feedback")


def list_llm_calls(session: Session, *, run_id: str) -> list[LLMCall]:
    """The run's LLM calls, oldest first."""
    return list(
        session.scalars(select(LLMCall).where(LLMCall.run_id == run_id).order_by(LLMCall.id))
    )


def list_feedback(session: Session, *, run_id: str) -> list[Feedback]:
    """All feedback on the run, consumed or not, oldest first."""
    return list(
        session.scalars(select(Feedback).where(Feedback.run_id == run_id).order_by(Feedback.id))
    )


def finished_counts(session: Session, *, run_id: str) -> tuple[int, int]:
    """(iterations done, candidates finished: trained, rejected, failed or stopped)."""
    iterations = session.scalar(
        select(func.count(Iteration.id)).where(
            Iteration.run_id == run_id, Iteration.status.in_(FINISHED_ITERATION_STATUSES)
        )
    )
    candidates = session.scalar(
        select(func.count(Candidate.id)).where(
            Candidate.run_id == run_id, Candidate.status.in_(FINISHED_CANDIDATE_STATUSES)
        )
    )
    return int(iterations or 0), int(candidates or 0)


def latest_finished_iteration(session: Session, *, run_id: str) -> int | None:
    """Index of the newest iteration whose candidates are all through, or None."""
    return session.scalar(
        select(func.max(Iteration.index)).where(
            Iteration.run_id == run_id, Iteration.status.in_(FINISHED_ITERATION_STATUSES)
        )
    )


def run_status(session: Session, *, run_id: str) -> str | None:
    """The run's status without loading the row; None when the run is gone."""
    return session.scalar(select(Run.status).where(Run.id == run_id))
