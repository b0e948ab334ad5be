"""Follow a run's event log: poll the database, yield new events, stop when the run ends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import anyio
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from app.api.queries import run_status
from app.db.repository import events_after
from app.db.states import TERMINAL_RUN_STATUSES

POLL_SECONDS = 0.5
BATCH = 200


@dataclass(frozen=True)
class StreamedEvent:
    """An event row copied out of its session."""

    id: int
    kind: str
    data: dict[str, Any]
    created_at: datetime


def _poll(
    session_factory: sessionmaker[Session], run_id: str, after_id: int
) -> tuple[list[StreamedEvent], bool]:
    with session_factory() as session:
        # The status is read first: events committed before it turned terminal
        # are all visible to the query after it.
        status = run_status(session, run_id=run_id)
        rows = events_after(session, run_id=run_id, after_id=after_id, limit=BATCH)
        events = [StreamedEvent(e.id, e.kind, dict(e.data or {}), e.created_at) for e in rows]
    return events, status is None or status in TERMINAL_RUN_STATUSES


async def follow_events(
    session_factory: sessionmaker[Session],
    *,
    run_id: str,
    after_id: int = 0,
    poll_seconds: float = POLL_SECONDS,
) -> AsyncIterator[StreamedEvent]:
    """Yield the run's events after ``after_id`` as they are committed.

    Ends once the run is finished (or deleted) and every event is out. The
    database is read in a worker thread, so a slow query never stalls the
    event loop.
    """
    while True:
        events, finished = await run_in_threadpool(_poll, session_factory, run_id, after_id)
        for event in events:
            yield event
            after_id = event.id
        if len(events) == BATCH:
            continue
        if finished:
            return
        await anyio.sleep(poll_seconds)
