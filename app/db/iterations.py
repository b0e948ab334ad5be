"""Iterations of a run: one round of proposals, training and reflection."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.errors import NotFoundError
from app.db.events import add_event
from app.db.models import Iteration
from app.db.runs import require_run
from app.db.states import ITERATION_STATUSES, check_status


def get_iteration(session: Session, *, run_id: str, index: int) -> Iteration | None:
    """The run's iteration ``index``, or None."""
    return session.scalars(
        select(Iteration).where(Iteration.run_id == run_id, Iteration.index == index)
    ).first()


def list_iterations(session: Session, *, run_id: str) -> list[Iteration]:
    """The run's iterations in order."""
    query = select(Iteration).where(Iteration.run_id == run_id).order_by(Iteration.index)
    return list(session.scalars(query))


def get_or_create_iteration(
    session: Session, *, run_id: str, index: int, parent_candidate_id: str | None = None
) -> Iteration:
    """The run's iteration ``index``, created (and ``iteration.started`` logged) if new.

    Only the worker holding the run's lease creates iterations, so there is no
    race to lose; the unique (run_id, index) constraint backs that up.
    """
    if index < 0:
        raise ValueError(f"iteration index must be >= 0, got {index}")
    existing = get_iteration(session, run_id=run_id, index=index)
    if existing is not None:
        return existing
    require_run(session, run_id=run_id)
    iteration = Iteration(
        run_id=run_id, index=index, status="proposing", parent_candidate_id=parent_candidate_id
    )
    session.add(iteration)
    session.flush()
    add_event(
        session,
        run_id=run_id,
        kind="iteration.started",
        data={"index": index, "parent_candidate_id": parent_candidate_id},
    )
    return iteration


def _require_iteration(session: Session, run_id: str, index: int) -> Iteration:
    iteration = get_iteration(session, run_id=run_id, index=index)
    if iteration is None:
        raise NotFoundError(f"run {run_id} has no iteration {index}")
    return iteration


def set_iteration_status(
    session: Session,
    *,
    run_id: str,
    index: int,
    status: str,
    best_candidate_id: str | None = None,
    parent_candidate_id: str | None = None,
) -> Iteration:
    """Move the iteration to ``status``, optionally naming its best and parent candidates."""
    check_status(status, ITERATION_STATUSES, "iteration status")
    iteration = _require_iteration(session, run_id, index)
    iteration.status = status
    if best_candidate_id is not None:
        iteration.best_candidate_id = best_candidate_id
    if parent_candidate_id is not None:
        iteration.parent_candidate_id = parent_candidate_id
    session.flush()
    add_event(
        session,
        run_id=run_id,
        kind="iteration.status",
        data={"index": index, "status": status, "best_candidate_id": iteration.best_candidate_id},
    )
    return iteration
