"""The LLM call store: a request made again for the same run, iteration and sample
is answered from the earlier call; usage totals."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from app.db.events import events_after
from app.db.llm_calls import DbCallStore, llm_usage
from app.db.models import LLMCall
from app.llm.call_store import LLMCallRecord
from tests.db.factories import CallRecord, new_run


def test_recorded_call_answers_the_same_request_for_its_run_iteration_and_sample_only(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        run_id, other_run = new_run(session).id, new_run(session).id
    store = DbCallStore(session_factory, run_id=run_id)
    assert store.lookup("hash-a", iteration=1, sample=2) is None
    retried = {"latency_s": 120.0, "cause": "no data for 120 s", "streamed": True, "chunks": 9}
    done = {"latency_s": 30.0, "cause": None, "streamed": True, "chunks": 40}
    call = LLMCallRecord(request_hash="hash-a", model="m", request={}, responses=["one", "two"],
                         iteration=1, sample=2, attempts=[retried, done])  # fmt: skip
    call_id = store.record(call)
    resumed = DbCallStore(session_factory, run_id=run_id)
    assert resumed.lookup("hash-a", iteration=1, sample=2) == ["one", "two"]
    assert resumed.lookup("hash-a", iteration=2, sample=2) is None  # a later iteration
    assert resumed.lookup("hash-a", iteration=1, sample=0) is None  # another sample
    assert resumed.lookup("hash-b", iteration=1, sample=2) is None
    other = DbCallStore(session_factory, run_id=other_run)
    assert other.lookup("hash-a", iteration=1, sample=2) is None  # another run
    with session_factory() as session:
        row = session.get(LLMCall, call_id)
        assert row is not None
        assert (row.run_id, row.iteration_index, row.sample_index) == (run_id, 1, 2)
        assert row.attempts == [retried, done]
        event = events_after(session, run_id=run_id)[-1]
        assert event.kind == "llm.call" and event.data["responses"] == 2
        assert event.data["retries"] == ["no data for 120 s"]


def test_failed_call_is_never_replayed(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        run_id = new_run(session).id
    store = DbCallStore(session_factory, run_id=run_id, iteration_index=0)
    store.record(CallRecord(request_hash="h", responses=[], error="rate limited"))
    assert store.lookup("h", iteration=0, sample=0) is None
    store.record(CallRecord(request_hash="h", responses=["ok"]))
    assert store.lookup("h", iteration=0, sample=0) == ["ok"]


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
