"""Iterations over HTTP: the stored prompt and the LLM's responses per round."""

from __future__ import annotations

from tests.api.conftest import Api
from tests.api.seed import finished_iteration, queued_run


def test_iterations_show_prompt_and_responses(api: Api) -> None:
    with api.session_factory.begin() as session:
        run = queued_run(session, task="keep the pole up")
        candidates = finished_iteration(session, run=run, index=0, artifacts_dir=api.artifacts_dir)
        run_id = run.id
    items = api.client.get(f"/api/runs/{run_id}/iterations").json()["items"]
    assert [it["index"] for it in items] == [0]
    one = api.client.get(f"/api/runs/{run_id}/iterations/0").json()
    assert one == items[0]
    assert one["status"] == "done"
    assert one["messages"][1] == {"role": "user", "content": "iteration 0: keep the pole up"}
    assert one["best_candidate_id"] == candidates[-1].id
    assert [r["candidate_id"] for r in one["responses"]] == [c.id for c in candidates]
    assert one["responses"][1]["response_text"] == candidates[1].response_text


def test_missing_iteration_is_404(api: Api) -> None:
    with api.session_factory.begin() as session:
        run_id = queued_run(session).id
    assert api.client.get(f"/api/runs/{run_id}/iterations").json() == {"items": []}
    response = api.client.get(f"/api/runs/{run_id}/iterations/0")
    assert response.status_code == 404
    assert "no iteration 0" in response.json()["detail"]
    assert api.client.get("/api/runs/nosuchrun/iterations").status_code == 404
