"""The event log: ordered per run, paged by id, and never skipping an event."""

from __future__ import annotations

import threading

from sqlalchemy.orm import Session, sessionmaker

from app.db.events import add_event, events_after
from tests.db.factories import new_run


def test_events_come_back_in_order_and_page_by_id(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        run_id = new_run(session).id
        other_id = new_run(session).id
        for step in range(5):
            add_event(session, run_id=run_id, kind="test.step", data={"step": step})
            add_event(session, run_id=other_id, kind="test.other")
    with session_factory() as session:
        first = events_after(session, run_id=run_id, limit=4)
        rest = events_after(session, run_id=run_id, after_id=first[-1].id)
        kinds = [e.kind for e in first + rest]
        assert kinds == ["run.created"] + ["test.step"] * 5
        assert [e.data["step"] for e in first[1:] + rest] == [0, 1, 2, 3, 4]
        assert events_after(session, run_id=run_id, after_id=rest[-1].id) == []


def test_reader_misses_no_event_of_overlapping_writers(
    session_factory: sessionmaker[Session],
) -> None:
    """A writer that took an id first but commits last must not be skipped by a reader.

    Writer A adds an event and holds its transaction open; writer B adds one
    meanwhile. A reader polling with an ``after_id`` cursor must end up with both.
    """
    with session_factory.begin() as session:
        run_id = new_run(session).id
        cursor = events_after(session, run_id=run_id)[-1].id
    a_added, b_done = threading.Event(), threading.Event()

    def writer_b() -> None:
        a_added.wait(10)
        with session_factory.begin() as session:
            add_event(session, run_id=run_id, kind="test.b")
        b_done.set()

    thread = threading.Thread(target=writer_b)
    thread.start()
    seen: list[str] = []
    with session_factory() as writer_a:
        add_event(writer_a, run_id=run_id, kind="test.a")
        a_added.set()
        b_done.wait(0.5)  # B commits first here unless A's transaction holds it back
        with session_factory() as reader:
            polled = events_after(reader, run_id=run_id, after_id=cursor)
        seen += [e.kind for e in polled]
        cursor = polled[-1].id if polled else cursor
        writer_a.commit()
    thread.join(15)
    with session_factory() as reader:
        seen += [e.kind for e in events_after(reader, run_id=run_id, after_id=cursor)]
    assert sorted(seen) == ["test.a", "test.b"]
