"""Server-sent events: a run's log streamed live, resumable, ending with the run."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from app.db.repository import add_event, set_run_status
from tests.api.conftest import Api
from tests.api.seed import queued_run


def _parse(text: str) -> list[dict[str, Any]]:
    """The events of an SSE body: id, event and the decoded data; comments dropped."""
    events = []
    for block in text.strip().split("\n\n"):
        fields: dict[str, Any] = {}
        for line in block.splitlines():
            name, _, value = line.partition(": ")
            if name in ("id", "event", "data"):
                fields[name] = value
        if fields:
            fields["data"] = json.loads(fields["data"])
            events.append(fields)
    return events


def _run_with_events(api: Api, kinds: list[str]) -> str:
    with api.session_factory.begin() as session:
        run_id = queued_run(session).id
        for number, kind in enumerate(kinds):
            add_event(session, run_id=run_id, kind=kind, data={"n": number})
    return run_id


def _finish(api: Api, run_id: str) -> None:
    with api.session_factory.begin() as session:
        set_run_status(session, run_id=run_id, status="cancelled")


def test_stream_sends_every_event_and_ends_with_the_run(api_any_db: Api) -> None:
    run_id = _run_with_events(api_any_db, ["iteration.started", "candidate.result"])
    _finish(api_any_db, run_id)
    response = api_any_db.client.get(f"/api/runs/{run_id}/events")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = _parse(response.text)
    kinds = [event["event"] for event in events]
    assert kinds == ["run.created", "iteration.started", "candidate.result", "run.status"]
    ids = [int(event["id"]) for event in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert events[1]["data"] == {"n": 0}
    assert events[-1]["data"]["status"] == "cancelled"


def test_stream_resumes_after_last_event_id(api: Api) -> None:
    run_id = _run_with_events(api, ["a", "b", "c"])
    _finish(api, run_id)
    everything = _parse(api.client.get(f"/api/runs/{run_id}/events").text)
    second = everything[1]["id"]
    resumed = api.client.get(f"/api/runs/{run_id}/events", headers={"Last-Event-ID": second})
    assert [e["id"] for e in _parse(resumed.text)] == [e["id"] for e in everything[2:]]
    by_query = api.client.get(f"/api/runs/{run_id}/events", params={"after": second})
    assert _parse(by_query.text) == _parse(resumed.text)


def test_stream_delivers_events_committed_while_it_is_open(api: Api) -> None:
    run_id = _run_with_events(api, [])

    def worker() -> None:
        for kind in ("iteration.started", "iteration.done"):
            time.sleep(0.3)
            with api.session_factory.begin() as session:
                add_event(session, run_id=run_id, kind=kind)
        _finish(api, run_id)

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        response = api.client.get(f"/api/runs/{run_id}/events")
    finally:
        thread.join()
    kinds = [event["event"] for event in _parse(response.text)]
    assert kinds == ["run.created", "iteration.started", "iteration.done", "run.status"]


def test_open_stream_does_not_hold_up_other_requests(api: Api) -> None:
    run_id = _run_with_events(api, [])
    received: list[str] = []
    reader = threading.Thread(
        target=lambda: received.append(api.client.get(f"/api/runs/{run_id}/events").text)
    )
    reader.start()
    try:
        time.sleep(0.5)  # the stream is open and polling
        started = time.perf_counter()
        for _ in range(5):
            assert api.client.get(f"/api/runs/{run_id}").status_code == 200
        assert time.perf_counter() - started < 5.0
        assert reader.is_alive()  # a queued run keeps its stream open
    finally:
        _finish(api, run_id)
        reader.join(timeout=10)
    assert not reader.is_alive()
    assert [e["event"] for e in _parse(received[0])] == ["run.created", "run.status"]


def test_stream_of_unknown_run_is_404_and_bad_resume_id_422(api: Api) -> None:
    assert api.client.get("/api/runs/nosuchrun/events").status_code == 404
    run_id = _run_with_events(api, [])
    response = api.client.get(f"/api/runs/{run_id}/events", headers={"Last-Event-ID": "abc"})
    assert response.status_code == 422
    assert "Last-Event-ID" in response.text


def test_idle_stream_sends_keep_alive_comments(api: Api, monkeypatch: Any) -> None:
    monkeypatch.setattr(api.app.state.event_hub, "keepalive_seconds", 0.2)  # 15 s in service
    run_id = _run_with_events(api, [])
    threading.Timer(1.0, _finish, args=(api, run_id)).start()
    body = api.client.get(f"/api/runs/{run_id}/events").text
    assert ": ping" in body
    assert [e["event"] for e in _parse(body)] == ["run.created", "run.status"]


def test_non_ascii_digits_in_last_event_id_are_refused(api: Api) -> None:
    run_id = _run_with_events(api, [])
    response = api.client.get(f"/api/runs/{run_id}/events", headers={"Last-Event-ID": b"\xb2"})
    assert response.status_code == 422


def test_streams_share_one_poller_that_stops_with_the_last_stream(api: Api) -> None:
    run_id = _run_with_events(api, ["a"])
    hub = api.app.state.event_hub
    first = api.client.stream("GET", f"/api/runs/{run_id}/events")
    second = api.client.stream("GET", f"/api/runs/{run_id}/events", headers={"Last-Event-ID": "0"})
    with first as one, second as two:
        readers = [response.iter_lines() for response in (one, two)]  # closing one ends it
        for lines in readers:
            assert next(line for line in lines if line.startswith("event:")) == "event: run.created"
        assert list(hub.feeds) == [run_id] and hub.feeds[run_id].streams == 2
    deadline = time.monotonic() + 5
    while hub.feeds and time.monotonic() < deadline:
        time.sleep(0.05)
    assert hub.feeds == {}  # the run is still queued, yet nobody reads it any more


def test_a_stream_behind_what_the_feed_keeps_reads_its_backlog(api: Api, monkeypatch: Any) -> None:
    import app.api.event_stream

    monkeypatch.setattr(app.api.event_stream, "KEEP", 3)  # 2,000 in service
    run_id = _run_with_events(api, [f"step.{n}" for n in range(10)])
    threading.Timer(1.0, _finish, args=(api, run_id)).start()
    first = api.client.stream("GET", f"/api/runs/{run_id}/events", headers={"Last-Event-ID": "0"})
    with first as live:  # holds the feed open while the second stream starts from the start
        kinds = [line for line in live.iter_lines() if line.startswith("event:")]
        again = _parse(api.client.get(f"/api/runs/{run_id}/events").text)
    expected = ["run.created", *[f"step.{n}" for n in range(10)], "run.status"]
    assert [kind.removeprefix("event: ") for kind in kinds] == expected
    assert [event["event"] for event in again] == expected


def test_a_viewer_joining_a_followed_run_costs_no_database_read(api: Api, monkeypatch: Any) -> None:
    import app.api.routes.events as events_route

    checks: list[str] = []
    real_check = events_route._run_exists

    def counted(factory: Any, run_id: str) -> bool:
        checks.append(run_id)
        return real_check(factory, run_id)

    monkeypatch.setattr(events_route, "_run_exists", counted)
    run_id = _run_with_events(api, ["a"])
    with api.client.stream("GET", f"/api/runs/{run_id}/events") as first:
        lines = first.iter_lines()
        assert next(line for line in lines if line.startswith("event:")) == "event: run.created"
        assert checks == [run_id]  # the first viewer: the database says the run exists
        again = api.client.stream(
            "GET", f"/api/runs/{run_id}/events", headers={"Last-Event-ID": "0"}
        )
        with again as second:
            events = (line for line in second.iter_lines() if line.startswith("event:"))
            assert next(events) == "event: run.created"
        assert checks == [run_id]  # the second joined the live feed: no query of its own
    assert api.client.get("/api/runs/nosuchrun/events").status_code == 404
    assert checks == [run_id, "nosuchrun"]
