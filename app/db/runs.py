"""Runs: create, read, list, change status, cancel, delete."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from app.db.dml import affected_rows
from app.db.errors import ConflictError, NotFoundError
from app.db.events import add_event
from app.db.models import Run, utcnow
from app.db.run_order import run_order, task_matches
from app.db.states import RUN_STATUSES, TERMINAL_RUN_STATUSES, check_status
from app.run_options import RunSpec
from app.run_prepare import prepare_run


def _positive(name: str, value: int, minimum: int = 1) -> None:
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")


def create_run(session: Session, spec: RunSpec | None = None, **fields: Any) -> Run:
    """Store a new queued run from ``spec`` (or the same fields as keywords); the caller
    commits. The card's defaults fill what the spec leaves open; raises ValueError
    (pydantic's ValidationError or RunOptionError) on a bad spec."""
    spec = prepare_run(spec if spec is not None else RunSpec.model_validate(fields))
    run = Run(
        env_id=spec.env_id,
        task=spec.task,
        fitness_metric=spec.fitness_metric,
        iterations=spec.iterations,
        samples=spec.samples,
        timesteps=spec.timesteps,
        final_seeds=spec.final_seeds,
        seed=spec.seed,
        llm=spec.llm.model_dump(),
        options=spec.options.model_dump(),
        feedback_mode=spec.feedback_mode,
        feedback_timeout_s=spec.feedback_timeout_s,
        card_spec=spec.card_spec,
        status="queued",
    )
    session.add(run)
    session.flush()
    add_event(
        session,
        run_id=run.id,
        kind="run.created",
        data={"status": run.status, "env_id": run.env_id, "task": run.task},
    )
    return run


def get_run(session: Session, *, run_id: str) -> Run | None:
    """The run with this id, or None."""
    return session.get(Run, run_id)


def require_run(session: Session, *, run_id: str) -> Run:
    """The run with this id; raises NotFoundError when there is none."""
    run = session.get(Run, run_id)
    if run is None:
        raise NotFoundError(f"no run with id {run_id!r}")
    return run


def list_runs(
    session: Session,
    *,
    status: str | None = None,
    env_id: str | None = None,
    search: str | None = None,
    sort: str = "created",
    descending: bool = True,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Run], int]:
    """One page of runs and the total matching the filters; ``search`` matches
    the task or an id prefix, ``sort`` is a key of ``RUN_SORTS`` (default: newest first)."""
    _positive("limit", limit)
    _positive("offset", offset, minimum=0)
    if status is not None:
        check_status(status, RUN_STATUSES, "run status")
    query = select(Run)
    if status is not None:
        query = query.where(Run.status == status)
    if env_id is not None:
        query = query.where(Run.env_id == env_id)
    if search:
        query = query.where(task_matches(search))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    order = run_order(session, sort, descending=descending)
    return list(session.scalars(query.order_by(*order).limit(limit).offset(offset))), total


def set_run_status(session: Session, *, run_id: str, status: str, error: str | None = None) -> Run:
    """Move the run to ``status`` (recording ``error``) and log a ``run.status`` event.

    A finished run (succeeded, failed, cancelled) may only go back to queued,
    which retries it. Reaching a finished status drops the lease. Setting the
    status it already has, with no error, changes nothing.
    """
    check_status(status, RUN_STATUSES, "run status")
    run = require_run(session, run_id=run_id)
    previous = run.status
    if previous == status and error is None:
        return run
    if previous in TERMINAL_RUN_STATUSES and status != "queued" and status != previous:
        raise ConflictError(f"run {run_id} is {previous}; it can only be queued again")
    run.status = status
    run.error = error
    if status in TERMINAL_RUN_STATUSES:
        run.lease_owner = None
        run.lease_expires_at = None
    if status == "queued":
        run.cancel_requested = False
    session.flush()
    add_event(
        session,
        run_id=run_id,
        kind="run.status",
        data={"status": status, "previous": previous, "error": error},
    )
    return run


def update_run_results(
    session: Session,
    *,
    run_id: str,
    best_candidate_id: str | None = None,
    best_fitness: float | None = None,
    baseline_fitness: float | None = None,
    sparse_fitness: float | None = None,
    normalized_score: float | None = None,
    final: dict[str, Any] | None = None,
) -> Run:
    """Store the run's results (arguments left None stay as they are); logs ``run.result``."""
    run = require_run(session, run_id=run_id)
    given = {
        "best_candidate_id": best_candidate_id,
        "best_fitness": best_fitness,
        "baseline_fitness": baseline_fitness,
        "sparse_fitness": sparse_fitness,
        "normalized_score": normalized_score,
        "final": final,
    }
    changed = {name: value for name, value in given.items() if value is not None}
    for name, value in changed.items():
        setattr(run, name, value)
    session.flush()
    summary = {name: value for name, value in changed.items() if name != "final"}
    add_event(session, run_id=run_id, kind="run.result", data=summary)
    return run


def request_cancel(session: Session, *, run_id: str) -> Run:
    """Ask for the run to stop. A queued run is cancelled at once.

    A running run gets ``cancel_requested``; its worker sees the flag and stops
    (asking again changes nothing). A finished run raises ConflictError.
    """
    run = require_run(session, run_id=run_id)
    if run.status in TERMINAL_RUN_STATUSES:
        raise ConflictError(f"run {run_id} already {run.status}; there is nothing to cancel")
    if run.cancel_requested:
        return run
    # Conditional, so a worker claiming the run at this moment cannot be overruled.
    cancelled_queued = affected_rows(
        session,
        update(Run)
        .where(Run.id == run_id, Run.status == "queued")
        .values(status="cancelled", cancel_requested=True, updated_at=utcnow()),
    )
    if cancelled_queued:
        session.refresh(run)
        add_event(
            session,
            run_id=run_id,
            kind="run.status",
            data={"status": "cancelled", "previous": "queued", "error": None},
        )
        return run
    session.refresh(run)
    if run.status in TERMINAL_RUN_STATUSES:  # it ended since we read it
        raise ConflictError(f"run {run_id} already {run.status}; there is nothing to cancel")
    run.cancel_requested = True
    session.flush()
    add_event(session, run_id=run_id, kind="run.cancel_requested", data={"status": run.status})
    return run


def delete_run(session: Session, *, run_id: str, force: bool = False) -> bool:
    """Delete the run and everything it owns; False if there was no such run.

    A run a worker holds a live lease on is refused (cancel it first) unless
    ``force`` is set.
    """
    run = session.get(Run, run_id)
    if run is None:
        return False
    lease_live = run.lease_expires_at is not None and run.lease_expires_at > utcnow()
    if lease_live and run.lease_owner and not force:
        raise ConflictError(f"run {run_id} is being worked on; cancel it before deleting it")
    session.expunge(run)
    # The database cascades to iterations, candidates, calls, feedback and events.
    affected_rows(session, delete(Run).where(Run.id == run_id))
    return True
