"""Read-only queries the API needs beyond the repository's functions."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db.models import Candidate, Event, Feedback, Iteration, LLMCall, Run
from app.db.run_order import FINISHED_CANDIDATE_STATUSES

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


def screened_count(session: Session, *, run_id: str) -> int:
    """Candidates screened out before training (app.evolution.screening)."""
    count = session.scalar(
        select(func.count(Candidate.id)).where(
            Candidate.run_id == run_id, Candidate.status == "screened"
        )
    )
    return int(count or 0)


def list_totals(session: Session, run_ids: list[str]) -> dict[str, tuple[int, int, float]]:
    """Per run of ``run_ids``: (iterations done, candidates finished, LLM cost in USD),
    in three grouped queries whatever the number of runs."""
    if not run_ids:
        return {}
    iterations = _count_by_run(session, Iteration, FINISHED_ITERATION_STATUSES, run_ids)
    candidates = _count_by_run(session, Candidate, FINISHED_CANDIDATE_STATUSES, run_ids)
    cost = dict(
        session.execute(
            select(LLMCall.run_id, func.coalesce(func.sum(LLMCall.cost_usd), 0.0))
            .where(LLMCall.run_id.in_(run_ids))
            .group_by(LLMCall.run_id)
        ).all()
    )
    return {
        run_id: (
            iterations.get(run_id, 0),
            candidates.get(run_id, 0),
            float(cost.get(run_id, 0.0)),
        )
        for run_id in run_ids
    }


def _count_by_run(
    session: Session,
    model: type[Iteration] | type[Candidate],
    statuses: tuple[str, ...],
    run_ids: list[str],
) -> dict[str, int]:
    query = (
        select(model.run_id, func.count(model.id))
        .where(model.run_id.in_(run_ids), model.status.in_(statuses))
        .group_by(model.run_id)
    )
    return {run_id: int(count) for run_id, count in session.execute(query).all()}


def latest_finished_iteration(session: Session, *, run_id: str) -> int | None:
    """Index of the newest iteration whose candidates are all through, or None."""
    return session.scalar(
        select(func.max(Iteration.index)).where(
            Iteration.run_id == run_id, Iteration.status.in_(FINISHED_ITERATION_STATUSES)
        )
    )


def newest_events(session: Session, *, run_id: str, limit: int) -> list[Event]:
    """The run's ``limit`` newest events, oldest first."""
    rows = session.scalars(
        select(Event).where(Event.run_id == run_id).order_by(Event.id.desc()).limit(limit)
    )
    return list(rows)[::-1]


def run_status(session: Session, *, run_id: str) -> str | None:
    """The run's status without loading the row; None when the run is gone."""
    return session.scalar(select(Run.status).where(Run.id == run_id))
