"""The LLM call store: identical requests answered from earlier calls, usage totals."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from app.db.events import events_after
from app.db.llm_calls import DbCallStore, llm_usage
from app.db.models import LLMCall
from tests.db.factories import CallRecord, new_run


def test_recorded_call_answers_the_same_request_in_any_run(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        first_run, second_run = new_run(session).id, new_run(session).id
    store = DbCallStore(session_factory, run_id=first_run, iteration_index=0)
    assert store.lookup("hash-a") is None
    call_id = store.record(CallRecord(request_hash="hash-a", responses=["one", "two"]))
    later = DbCallStore(session_factory, run_id=second_run)
    assert later.lookup("hash-a") == ["one", "two"]
    assert later.lookup("hash-b") is None
    with session_factory() as session:
        row = session.get(LLMCall, call_id)
        assert row is not None and (row.run_id, row.iteration_index) == (first_run, 0)
        event = events_after(session, run_id=first_run)[-1]
        assert event.kind == "llm.call" and event.data["responses"] == 2


def test_failed_call_is_never_replayed(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        run_id = new_run(session).id
    store = DbCallStore(session_factory, run_id=run_id)
    store.record(CallRecord(request_hash="h", responses=[], error="rate limited"))
    assert store.lookup("h") is None
    store.record(CallRecord(request_hash="h", responses=["ok"]))
    assert store.lookup("h") == ["ok"]


def test_usage_adds_up_the_runs_calls(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        run_id, other_run = new_run(session).id, new_run(session).id
    store = DbCallStore(session_factory, run_id=run_id)
    store.record(CallRecord(request_hash="a", prompt_tokens=100, completion_tokens=40,
                            latency_s=2.0, cost_usd=0.01))  # fmt: skip
    store.record(CallRecord(request_hash="b", prompt_tokens=300, completion_tokens=60,
                            latency_s=4.0, cost_usd=0.03))  # fmt: skip
    store.record(CallRecord(request_hash="a", prompt_tokens=0, completion_tokens=0,
                            latency_s=0.0, cost_usd=0.0, cached=True))  # fmt: skip
    store.record(CallRecord(request_hash="c", responses=[], error="timeout", prompt_tokens=0,
                            completion_tokens=0, latency_s=30.0, cost_usd=0.0))  # fmt: skip
    DbCallStore(session_factory, run_id=other_run).record(CallRecord(request_hash="z"))
    with session_factory() as session:
        usage = llm_usage(session, run_id=run_id)
        assert usage.pop("cost_usd") == pytest.approx(0.04)
        assert usage.pop("mean_latency_s") == pytest.approx(12.0)  # (2 + 4 + 30) / 3 sent
        assert usage == {"calls": 4, "cached_calls": 1, "failed_calls": 1, "prompt_tokens": 400,
                         "completion_tokens": 100, "latency_s": 36.0}  # fmt: skip
        empty = llm_usage(session, run_id="no-such-run")
        assert (empty["calls"], empty["cost_usd"], empty["mean_latency_s"]) == (0, 0.0, 0.0)
