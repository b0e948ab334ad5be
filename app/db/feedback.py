"""Human feedback on a run: free text, a parent pick, a comparison (preference, tie,
both bad), or "continue"."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.db.dml import affected_rows
from app.db.errors import NotFoundError
from app.db.events import add_event
from app.db.models import Candidate, Feedback
from app.db.runs import require_run
from app.db.states import COMPARISON_KINDS, FEEDBACK_KINDS, check_status


def _check_candidate(session: Session, run_id: str, candidate_id: str | None, role: str) -> None:
    if candidate_id is None:
        raise ValueError(f"{role} is required for this kind of feedback")
    candidate = session.get(Candidate, candidate_id)
    if candidate is None or candidate.run_id != run_id:
        raise NotFoundError(f"run {run_id} has no candidate {candidate_id!r}")


def _validate(
    session: Session,
    *,
    run_id: str,
    kind: str,
    text: str | None,
    candidate_id: str | None,
    other_candidate_id: str | None,
) -> None:
    check_status(kind, FEEDBACK_KINDS, "feedback kind")
    if kind == "text" and not (text and text.strip()):
        raise ValueError("text feedback needs non-empty text")
    if kind == "parent" or kind in COMPARISON_KINDS:
        _check_candidate(session, run_id, candidate_id, "candidate_id")
    if kind in COMPARISON_KINDS:
        _check_candidate(session, run_id, other_candidate_id, "other_candidate_id")
        if other_candidate_id == candidate_id:
            raise ValueError(f"a {kind} needs two different candidates")


def add_feedback(
    session: Session,
    *,
    run_id: str,
    iteration_index: int,
    kind: str,
    text: str | None = None,
    candidate_id: str | None = None,
    other_candidate_id: str | None = None,
) -> Feedback:
    """Store feedback about iteration ``iteration_index`` and log ``feedback.added``.

    text needs ``text``; parent needs ``candidate_id``; preference needs
    ``candidate_id`` (preferred) and ``other_candidate_id``; tie and both_bad
    need the two candidates in either order; continue needs nothing. Named
    candidates must belong to the run.
    """
    require_run(session, run_id=run_id)
    if iteration_index < 0:
        raise ValueError(f"iteration_index must be >= 0, got {iteration_index}")
    _validate(
        session,
        run_id=run_id,
        kind=kind,
        text=text,
        candidate_id=candidate_id,
        other_candidate_id=other_candidate_id,
    )
    feedback = Feedback(
        run_id=run_id,
        iteration_index=iteration_index,
        kind=kind,
        text=text,
        candidate_id=candidate_id,
        other_candidate_id=other_candidate_id,
    )
    session.add(feedback)
    session.flush()
    add_event(
        session,
        run_id=run_id,
        kind="feedback.added",
        data={
            "id": feedback.id,
            "iteration": iteration_index,
            "kind": kind,
            "candidate_id": candidate_id,
            "other_candidate_id": other_candidate_id,
            "text": text,
        },
    )
    return feedback


def pending_feedback(
    session: Session, *, run_id: str, iteration_index: int | None = None
) -> list[Feedback]:
    """Feedback no prompt has used yet (a "continue" is never for a prompt), oldest
    first, about iteration ``iteration_index`` or earlier.

    Earlier iterations count too, so feedback that arrived late is not lost.
    """
    query = select(Feedback).where(
        Feedback.run_id == run_id, Feedback.consumed.is_(False), Feedback.kind != "continue"
    )
    if iteration_index is not None:
        query = query.where(Feedback.iteration_index <= iteration_index)
    return list(session.scalars(query.order_by(Feedback.id)))


def mark_consumed(session: Session, *, run_id: str, feedback_ids: list[int], iteration: int) -> int:
    """Mark the run's feedback as used by iteration ``iteration``'s prompt; returns how
    many were pending."""
    if not feedback_ids:
        return 0
    statement = (
        update(Feedback)
        .where(
            Feedback.run_id == run_id,
            Feedback.id.in_(feedback_ids),
            Feedback.consumed.is_(False),
        )
        .values(consumed=True, used_in_iteration=iteration)
    )
    # "fetch" so Feedback objects the caller holds read consumed=True afterwards.
    count = affected_rows(session, statement, synchronize="fetch")
    if count:
        add_event(
            session,
            run_id=run_id,
            kind="feedback.consumed",
            data={"ids": sorted(feedback_ids), "count": count, "iteration": iteration},
        )
    return count
