"""The event log: every state change of a run, in commit order per run."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Event, Run


def add_event(
    session: Session, *, run_id: str, kind: str, data: dict[str, Any] | None = None
) -> Event:
    """Append an event to the run's log, in the caller's transaction.

    On Postgres the run's row is locked first, so two transactions adding
    events to one run commit them in id order. Without it a reader that has
    seen id 11 could miss id 10 committed a moment later (``events_after``
    would never return it). SQLite serialises all writers already.
    """
    if session.get_bind().dialect.name == "postgresql":
        # NO KEY UPDATE: does not conflict with the key-share locks foreign keys take.
        session.execute(select(Run.id).where(Run.id == run_id).with_for_update(key_share=True))
    event = Event(run_id=run_id, kind=kind, data=dict(data or {}))
    session.add(event)
    session.flush()
    return event


def events_after(
    session: Session, *, run_id: str, after_id: int = 0, limit: int = 100
) -> list[Event]:
    """The run's events with id greater than ``after_id``, oldest first."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    return list(
        session.scalars(
            select(Event)
            .where(Event.run_id == run_id, Event.id > after_id)
            .order_by(Event.id)
            .limit(limit)
        )
    )
