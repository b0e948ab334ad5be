"""/runs/{id}/events: the run's event log as server-sent events, live."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from app.api.errors import invalid_field
from app.api.event_stream import EventHub
from app.api.queries import run_status
from app.api.schemas.common import MAX_EVENT_ID, RunIdPath, error_responses
from app.db.errors import NotFoundError

router = APIRouter(tags=["events"])
SSE = "text/event-stream"


@dataclass(frozen=True)
class StreamStart:
    run_id: str
    after_id: int


def _last_event_id(header: str | None) -> int | None:
    if header is None or not header.strip():
        return None
    value = header.strip()
    if not (value.isascii() and value.isdigit()) or int(value) > MAX_EVENT_ID:
        raise invalid_field(
            ("header", "Last-Event-ID"),
            "Last-Event-ID must be an event id (a non-negative integer)",
            header,
        )
    return int(value)


def _run_exists(factory: sessionmaker[Session], run_id: str) -> bool:
    with factory() as session:  # the status alone: a run's row can be large
        return run_status(session, run_id=run_id) is not None


async def stream_start(
    run_id: RunIdPath,
    request: Request,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_EVENT_ID, description="send events with a larger id")
    ] = None,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID", description="what a reconnecting client sends; wins over 'after'"
        ),
    ] = None,
) -> StreamStart:
    """Check the run exists before the stream starts (a 404 must come before a 200).

    A run whose events are being followed exists (its poller read it within the last
    poll), so only the first viewer's check reads the database: a crowd joining a
    live run costs no query and no thread each.
    """
    hub: EventHub = request.app.state.event_hub
    if not hub.following(run_id):
        factory = request.app.state.session_factory
        if not await run_in_threadpool(_run_exists, factory, run_id):
            raise NotFoundError(f"no run with id {run_id!r}")
    resumed = _last_event_id(last_event_id)
    return StreamStart(run_id=run_id, after_id=resumed if resumed is not None else after or 0)


@router.get(
    "/runs/{run_id}/events",
    summary="Follow a run's events (server-sent events)",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "the run's events, then live ones, as server-sent events",
            "content": {SSE: {"schema": {"type": "string"}}},
        },
        **error_responses(404),
    },
)
async def stream(
    start: Annotated[StreamStart, Depends(stream_start)], request: Request
) -> StreamingResponse:
    """Server-sent events: ``id`` is the event id, ``event`` its kind, ``data`` its JSON.

    Resume with the ``Last-Event-ID`` header (or ``?after=``). Keep-alive comments
    come every 15 s; the stream ends once the run has finished and every event
    is sent.
    """
    hub: EventHub = request.app.state.event_hub
    return StreamingResponse(
        hub.follow(start.run_id, after_id=start.after_id),
        media_type=SSE,
        # No caching, and no buffering in a proxy (nginx) in front.
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
