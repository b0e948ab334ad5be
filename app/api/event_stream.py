"""Follow a run's event log: one poller per followed run, shared by all its streams.

An open stream holds no database connection while it waits. For each run that
somebody follows, one task reads the new events every ``POLL_SECONDS`` (one
short session in a worker thread), keeps the latest ``KEEP`` in memory and
wakes the streams; 200 streams on one run cost one query per poll, not 200.
The poller starts with the run's newest ``KEEP`` events (the whole log of most
runs), so a new viewer costs no query of its own; a stream that starts before
the events in memory reads that backlog itself, in batches, then joins. The
poller stops when the run ends or its last stream closes.

Each event is encoded to its server-sent-event frame once, when it is read, and
a stream writes every frame it has ready in one chunk: a viewer that joins a
long log, or 200 streams woken by one new event, cost a write each, not an
encoding and a hand-off per event per stream.
"""

from __future__ import annotations

import bisect
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import anyio
from anyio.abc import TaskGroup
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from app.api.queries import newest_events, run_status
from app.db.models import Event
from app.db.repository import events_after
from app.db.states import TERMINAL_RUN_STATUSES

POLL_SECONDS = 0.5
BATCH = 200
KEEP = 2000  # events a feed keeps for streams that join late or fall behind
RETRY_SECONDS = (0.5, 1.0, 2.0, 5.0)  # pauses after failed polls (the database is down)
KEEPALIVE_SECONDS = 15.0  # a comment on a quiet stream, so proxies keep it open
KEEPALIVE = b": ping\n\n"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StreamedEvent:
    """An event row copied out of its session, with its server-sent-event frame."""

    id: int
    kind: str
    data: dict[str, Any]
    created_at: datetime
    frame: bytes


def sse_frame(event_id: int, kind: str, data: dict[str, Any]) -> bytes:
    """``id``, ``event`` and ``data`` (JSON on one line) of one server-sent event."""
    kind = kind.replace("\r", " ").replace("\n", " ")
    return f"id: {event_id}\nevent: {kind}\ndata: {json.dumps(data)}\n\n".encode()


def _read(
    session_factory: sessionmaker[Session], run_id: str, after_id: int
) -> tuple[list[StreamedEvent], bool]:
    """Up to BATCH events after ``after_id``, and whether the run had ended before them."""
    with session_factory() as session:
        # The status is read first: events committed before it turned terminal
        # are all visible to the query after it.
        status = run_status(session, run_id=run_id)
        events = _copy(events_after(session, run_id=run_id, after_id=after_id, limit=BATCH))
    return events, status is None or status in TERMINAL_RUN_STATUSES


def _copy(rows: list[Event]) -> list[StreamedEvent]:
    copies = []
    for row in rows:
        data = dict(row.data or {})
        copies.append(
            StreamedEvent(row.id, row.kind, data, row.created_at, sse_frame(row.id, row.kind, data))
        )
    return copies


def _tail(session_factory: sessionmaker[Session], run_id: str) -> tuple[int, list[StreamedEvent]]:
    """The run's newest KEEP events and the floor below them (0: the whole log)."""
    with session_factory() as session:
        events = _copy(newest_events(session, run_id=run_id, limit=KEEP))
    return (events[0].id - 1 if len(events) == KEEP else 0), events


class RunFeed:
    """What one poller has read of one run: every event with id above ``floor``
    (None until the poller has read where the run's log ends)."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.floor: int | None = None
        self.events: list[StreamedEvent] = []
        self.finished = False
        self.streams = 0
        self.changed = anyio.Event()
        self.cancel = anyio.CancelScope()

    def after(self, after_id: int) -> list[StreamedEvent]:
        """The events in memory with id above ``after_id`` (which is at least ``floor``)."""
        start = bisect.bisect_right(self.events, after_id, key=lambda event: event.id)
        return self.events[start:]

    def start(self, floor: int, events: list[StreamedEvent]) -> None:
        self.floor, self.events = floor, events
        self._wake()

    def publish(self, events: list[StreamedEvent], *, finished: bool) -> None:
        self.events.extend(events)
        if len(self.events) > KEEP:
            dropped = self.events[: len(self.events) - KEEP]
            self.events = self.events[len(dropped) :]
            self.floor = dropped[-1].id
        self.finished = finished
        if events or finished:
            self._wake()

    def _wake(self) -> None:
        self.changed.set()
        self.changed = anyio.Event()


class EventHub:
    """The feeds of the runs being followed; pollers run in the app's task group."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        tasks: TaskGroup,
        *,
        poll_seconds: float = POLL_SECONDS,
        keepalive_seconds: float = KEEPALIVE_SECONDS,
    ) -> None:
        self.session_factory = session_factory
        self.tasks = tasks
        self.poll_seconds = poll_seconds
        self.keepalive_seconds = keepalive_seconds
        self.feeds: dict[str, RunFeed] = {}

    def following(self, run_id: str) -> bool:
        """True while a poller follows the run and has read it (so the run exists)."""
        feed = self.feeds.get(run_id)
        return feed is not None and feed.floor is not None and not feed.finished

    @asynccontextmanager
    async def joined(self, run_id: str) -> AsyncIterator[RunFeed]:
        """The run's feed, its poller started by the first stream and stopped by the last."""
        feed = self.feeds.get(run_id)
        if feed is None or feed.finished:  # a finished run may be resumed: read it afresh
            feed = self.feeds[run_id] = RunFeed(run_id)
            self.tasks.start_soon(self._poll, feed)
        feed.streams += 1
        try:
            yield feed
        finally:
            feed.streams -= 1
            if feed.streams == 0:
                feed.cancel.cancel()
                if self.feeds.get(run_id) is feed:
                    del self.feeds[run_id]

    async def _poll(self, feed: RunFeed) -> None:
        after_id, failures = 0, 0
        with feed.cancel:
            while True:
                try:
                    if feed.floor is None:
                        floor, tail = await run_in_threadpool(
                            _tail, self.session_factory, feed.run_id
                        )
                        feed.start(floor, tail)
                        after_id = tail[-1].id if tail else floor
                    events, ended = await run_in_threadpool(
                        _read, self.session_factory, feed.run_id, after_id
                    )
                except Exception:  # the database is down: the streams wait, the poller retries
                    pause = RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)]
                    failures += 1
                    log.warning("reading events of run %s failed", feed.run_id, exc_info=True)
                    await anyio.sleep(pause)
                    continue
                failures = 0
                full = len(events) == BATCH
                feed.publish(events, finished=ended and not full)
                after_id = events[-1].id if events else after_id
                if feed.finished:
                    return
                if not full:
                    await anyio.sleep(self.poll_seconds)

    async def follow(self, run_id: str, *, after_id: int = 0) -> AsyncIterator[bytes]:
        """The run's events after ``after_id`` as server-sent-event bytes, as they are
        committed: every frame ready at once in one chunk, ``KEEPALIVE`` after
        ``keepalive_seconds`` without any.

        Ends once the run is finished (or deleted) and every event is out.
        """
        async with self.joined(run_id) as feed:
            while True:
                changed = feed.changed
                if feed.floor is None:
                    if not await _wait(changed, self.keepalive_seconds):
                        yield KEEPALIVE
                    continue
                if after_id < feed.floor:  # before what the feed holds: read the backlog
                    backlog, _ = await run_in_threadpool(
                        _read, self.session_factory, run_id, after_id
                    )
                    if backlog:
                        yield b"".join(event.frame for event in backlog)
                        after_id = backlog[-1].id
                    else:  # rows deleted under us: what follows is in memory
                        after_id = feed.floor
                    continue
                events = feed.after(after_id)
                if events:
                    yield b"".join(event.frame for event in events)
                    after_id = events[-1].id
                    continue
                if feed.finished:
                    return
                if not await _wait(changed, self.keepalive_seconds):
                    yield KEEPALIVE


async def _wait(event: anyio.Event, seconds: float) -> bool:
    """Wait for ``event`` up to ``seconds``; False if the time ran out."""
    with anyio.move_on_after(seconds):
        await event.wait()
        return True
    return False
