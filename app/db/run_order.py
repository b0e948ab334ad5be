"""How the runs list is searched and sorted: by any column the dashboard shows.

Progress and LLM cost are sorted by correlated subqueries, so one page stays
one query however many candidates and calls the runs have. A run's duration is
from its creation to its last change once it has finished, else to now; the
arithmetic on timestamps differs between SQLite and Postgres.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, SQLColumnExpression, case, func, literal, select
from sqlalchemy.orm import Session

from app.db.models import Candidate, LLMCall, Run, utcnow
from app.db.states import TERMINAL_RUN_STATUSES
from app.db.types import UTCDateTime

# A candidate that will not train any further: trained, rejected, failed, stopped or
# screened out before training.
FINISHED_CANDIDATE_STATUSES = ("done", "invalid", "failed", "stopped", "screened")
FINAL_TRAININGS_PER_SEED = 3  # the best reward, the env's own reward, the fitness as reward

# Every sort key, and the order a first click on its column sorts in.
RUN_SORTS = {
    "created": "desc",
    "task": "asc",
    "status": "asc",
    "env": "asc",
    "best_fitness": "desc",
    "normalized_score": "desc",
    "progress": "desc",
    "cost": "desc",
    "duration": "desc",
}


def task_matches(text: str) -> ColumnElement[bool]:
    """Runs whose task contains ``text`` (any case), or whose id starts with it."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return Run.task.ilike(f"%{escaped}%", escape="\\") | Run.id.like(f"{escaped}%", escape="\\")


def run_order(session: Session, sort: str, *, descending: bool) -> list[ColumnElement[Any]]:
    """ORDER BY clauses for ``sort`` (a key of RUN_SORTS): runs without a value last,
    then newest first among equals."""
    if sort not in RUN_SORTS:
        raise ValueError(f"unknown sort {sort!r}; expected one of {sorted(RUN_SORTS)}")
    key = _sort_key(session, sort)
    primary = key.desc() if descending else key.asc()
    return [key.is_(None), primary, Run.created_at.desc(), Run.id.desc()]


def _sort_key(session: Session, sort: str) -> SQLColumnExpression[Any]:
    if sort == "progress":
        finished = (
            select(func.count(Candidate.id))
            .where(Candidate.run_id == Run.id, Candidate.status.in_(FINISHED_CANDIDATE_STATUSES))
            .scalar_subquery()
        )
        total = Run.iterations * Run.samples + FINAL_TRAININGS_PER_SEED * Run.final_seeds
        return finished * 1.0 / func.nullif(total, 0)
    if sort == "cost":
        spent = select(func.sum(LLMCall.cost_usd)).where(LLMCall.run_id == Run.id)
        return func.coalesce(spent.scalar_subquery(), 0.0)
    if sort == "duration":
        return _duration_seconds(session)
    columns: dict[str, SQLColumnExpression[Any]] = {
        "created": Run.created_at,
        "task": func.lower(Run.task),
        "status": Run.status,
        "env": Run.env_id,
        "best_fitness": Run.best_fitness,
        "normalized_score": Run.normalized_score,
    }
    return columns[sort]


def _duration_seconds(session: Session) -> ColumnElement[Any]:
    now = literal(utcnow(), UTCDateTime())
    end = case((Run.status.in_(sorted(TERMINAL_RUN_STATUSES)), Run.updated_at), else_=now)
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", end - Run.created_at)
    return (func.julianday(end) - func.julianday(Run.created_at)) * 86400.0
