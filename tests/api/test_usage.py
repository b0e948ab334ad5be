"""LLM usage over HTTP: every call of a run with its tokens, cost and latency."""

from __future__ import annotations

from app.db.repository import record_llm_call
from tests.api.conftest import Api
from tests.api.seed import queued_run
from tests.db.factories import CallRecord


def test_usage_lists_calls_and_totals(api_any_db: Api) -> None:
    with api_any_db.session_factory.begin() as session:
        run_id = queued_run(session).id
        record_llm_call(
            session,
            call=CallRecord(
                request_hash="a",
                prompt_tokens=100,
                completion_tokens=40,
                cost_usd=0.01,
                latency_s=2.0,
            ),
            run_id=run_id,
            iteration_index=0,
        )
        record_llm_call(
            session,
            call=CallRecord(
                request_hash="a", cached=True, cost_usd=0.0, latency_s=0.0, responses=["x", "y"]
            ),
            run_id=run_id,
            iteration_index=1,
        )
    usage = api_any_db.client.get(f"/api/runs/{run_id}/usage").json()
    totals = usage["totals"]
    assert (totals["calls"], totals["cached_calls"], totals["prompt_tokens"]) == (2, 1, 200)
    assert totals["cost_usd"] == 0.01
    assert totals["mean_latency_s"] == 2.0  # calls answered from the store do not count
    assert [c["iteration_index"] for c in usage["calls"]] == [0, 1]
    assert [c["responses"] for c in usage["calls"]] == [1, 2]
    detail = api_any_db.client.get(f"/api/runs/{run_id}").json()
    assert detail["cost"] == totals


def test_usage_of_unknown_run_is_404(api: Api) -> None:
    assert api.client.get("/api/runs/nosuchrun/usage").status_code == 404
