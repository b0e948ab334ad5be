"""Candidates: one reward function each, and the policy trained on it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.db.dml import affected_rows
from app.db.errors import NotFoundError
from app.db.events import add_event
from app.db.models import Candidate, Run, utcnow
from app.db.runs import require_run
from app.db.states import CANDIDATE_STATUSES, UNFINISHED_CANDIDATE_STATUSES, check_status


def create_candidate(
    session: Session,
    *,
    run_id: str,
    iteration_index: int,
    sample_index: int,
    kind: str = "search",
    reward_source: str = "candidate",
    seed: int = 0,
    parent_id: str | None = None,
    response_text: str | None = None,
    code: str | None = None,
    code_hash: str | None = None,
    duplicate_of: str | None = None,
    status: str = "pending",
    error_kind: str | None = None,
    error: str | None = None,
) -> Candidate:
    """Store a candidate (``pending``, or ``invalid`` with its error) and log it."""
    check_status(status, CANDIDATE_STATUSES, "candidate status")
    require_run(session, run_id=run_id)
    candidate = Candidate(
        run_id=run_id,
        iteration_index=iteration_index,
        sample_index=sample_index,
        kind=kind,
        reward_source=reward_source,
        seed=seed,
        parent_id=parent_id,
        response_text=response_text,
        code=code,
        code_hash=code_hash,
        duplicate_of=duplicate_of,
        status=status,
        error_kind=error_kind,
        error=error,
    )
    session.add(candidate)
    session.flush()
    add_event(
        session,
        run_id=run_id,
        kind="candidate.created",
        data={
            "id": candidate.id,
            "iteration": iteration_index,
            "sample": sample_index,
            "kind": kind,
            "status": status,
            "error_kind": error_kind,
            "error": (error or "")[:500] or None,
        },
    )
    return candidate


def get_candidate(session: Session, *, candidate_id: str) -> Candidate | None:
    """The candidate with this id, or None."""
    return session.get(Candidate, candidate_id)


def require_candidate(session: Session, *, candidate_id: str) -> Candidate:
    """The candidate with this id; raises NotFoundError when there is none."""
    candidate = session.get(Candidate, candidate_id)
    if candidate is None:
        raise NotFoundError(f"no candidate with id {candidate_id!r}")
    return candidate


def list_candidates(
    session: Session,
    *,
    run_id: str,
    iteration_index: int | None = None,
    status: str | Iterable[str] | None = None,
    kind: str | None = None,
) -> list[Candidate]:
    """The run's candidates by iteration then sample, optionally filtered."""
    query = select(Candidate).where(Candidate.run_id == run_id)
    if iteration_index is not None:
        query = query.where(Candidate.iteration_index == iteration_index)
    if status is not None:
        statuses = [status] if isinstance(status, str) else list(status)
        for one in statuses:
            check_status(one, CANDIDATE_STATUSES, "candidate status")
        query = query.where(Candidate.status.in_(statuses))
    if kind is not None:
        query = query.where(Candidate.kind == kind)
    order = (Candidate.iteration_index, Candidate.kind, Candidate.sample_index)
    return list(session.scalars(query.order_by(*order)))


def _status_event(session: Session, candidate: Candidate, previous: str) -> None:
    add_event(
        session,
        run_id=candidate.run_id,
        kind="candidate.status",
        data={
            "id": candidate.id,
            "status": candidate.status,
            "previous": previous,
            "error_kind": candidate.error_kind,
            "error": candidate.error,
        },
    )


def claim_candidate(
    session: Session,
    *,
    candidate_id: str,
    from_status: str = "pending",
    to_status: str = "training",
) -> bool:
    """Move the candidate from ``from_status`` to ``to_status`` only if it is still there.

    Returns False when someone else moved it first, so one candidate is never
    trained twice at once. Each successful claim counts one attempt.
    """
    check_status(from_status, CANDIDATE_STATUSES, "candidate status")
    check_status(to_status, CANDIDATE_STATUSES, "candidate status")
    statement = (
        update(Candidate)
        .where(Candidate.id == candidate_id, Candidate.status == from_status)
        .values(status=to_status, attempts=Candidate.attempts + 1, updated_at=utcnow())
    )
    if affected_rows(session, statement) != 1:
        return False
    candidate = session.get(Candidate, candidate_id, populate_existing=True)
    assert candidate is not None
    _status_event(session, candidate, from_status)
    return True


def record_candidate_progress(
    session: Session,
    *,
    candidate_id: str,
    env_steps: int,
    stats: dict[str, Any] | None = None,
) -> Candidate | None:
    """Env steps done by a candidate in training (and its statistics so far, when a new
    checkpoint landed). A queued candidate becomes training; while it trains its steps
    only grow (a halving rung's sandbox first reports 0, before it loads the checkpoint).
    None when the candidate is no longer queued or training: a late report never undoes
    its result."""
    candidate = get_candidate(session, candidate_id=candidate_id)
    if candidate is None or candidate.status not in ("queued", "training"):
        return None
    previous = candidate.status
    candidate.status = "training"
    steps = max(0, int(env_steps))
    candidate.env_steps = steps if previous == "queued" else max(candidate.env_steps, steps)
    if stats is not None:
        candidate.stats = stats
    session.flush()
    if previous != "training":
        _status_event(session, candidate, previous)
    return candidate


def record_candidate_result(
    session: Session,
    *,
    candidate_id: str,
    status: str = "done",
    stats: dict[str, Any] | None = None,
    evaluation: dict[str, Any] | None = None,
    fitness: float | None = None,
    success_rate: float | None = None,
    env_steps: int | None = None,
    train_seconds: float | None = None,
    artifact_dir: str | None = None,
    sandbox_level: str | None = None,
    error_kind: str | None = None,
    error: str | None = None,
    overwrite: bool = False,
) -> Candidate:
    """Store what training and evaluation produced (None leaves a field as it was,
    unless ``overwrite``: then every field takes the value given).

    ``status`` is usually done, or failed/stopped with partial statistics.
    Logs ``candidate.result``.
    """
    check_status(status, CANDIDATE_STATUSES, "candidate status")
    candidate = require_candidate(session, candidate_id=candidate_id)
    given = {
        "stats": stats,
        "evaluation": evaluation,
        "fitness": fitness,
        "success_rate": success_rate,
        "env_steps": env_steps,
        "train_seconds": train_seconds,
        "artifact_dir": artifact_dir,
        "sandbox_level": sandbox_level,
    }
    for name, value in given.items():
        if value is not None or overwrite:
            setattr(candidate, name, value)
    candidate.status = status
    candidate.error_kind = error_kind
    candidate.error = error
    session.flush()
    add_event(
        session,
        run_id=candidate.run_id,
        kind="candidate.result",
        data={
            "id": candidate.id,
            "iteration": candidate.iteration_index,
            "sample": candidate.sample_index,
            "kind": candidate.kind,
            "status": status,
            "fitness": candidate.fitness,
            "success_rate": candidate.success_rate,
            "env_steps": candidate.env_steps,
            "train_seconds": candidate.train_seconds,
            "error": (error or "")[:500] or None,
        },
    )
    return candidate


def reset_unfinished_candidates(session: Session, *, run_id: str) -> int:
    """Put candidates a dead or stopped worker left mid-training back to pending."""
    unfinished = list_candidates(session, run_id=run_id, status=UNFINISHED_CANDIDATE_STATUSES)
    for candidate in unfinished:
        previous = candidate.status
        candidate.status = "pending"
        session.flush()
        _status_event(session, candidate, previous)
    return len(unfinished)


def best_candidate(session: Session, run: Run) -> Candidate | None:
    """The row ``run.best_candidate_id`` names (the evolution loop's pick), or None."""
    return session.get(Candidate, run.best_candidate_id) if run.best_candidate_id else None
