"""Training shows while it happens: a candidate's env steps and statistics reach its
row and the API during training, and a candidate waiting for a sandbox slot is
queued, not training."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.execution.local import LocalExecutor
from tests.api.conftest import make_settings, open_api
from tests.evolution.runs import new_run

BUDGET = 16384  # long enough for a few heartbeats (every 2 s) on a slow machine


def test_api_shows_env_steps_of_a_candidate_still_training(tmp_path: Path) -> None:
    tiny = new_run(tmp_path / "data", samples=2, timesteps=BUDGET)
    seen: list[list[dict[str, Any]]] = []
    api = open_api(make_settings(tiny.url, tmp_path / "data"))
    client = next(api).client

    def look(kind: str, data: dict[str, Any]) -> None:
        if kind == "candidate.heartbeat" and 0 < data["steps"] < data["total"]:
            answer = client.get(f"/api/runs/{tiny.run_id}/candidates")
            seen.append(answer.json()["items"])

    try:
        assert tiny.execute(LocalExecutor(1), on_progress=look) == "succeeded"
    finally:
        api.close()
    mid = [
        (c["status"], c["env_steps"])
        for items in seen
        for c in items
        if c["status"] == "training" and 0 < c["env_steps"] < BUDGET
    ]
    assert mid, f"no candidate seen mid-training through the API: {seen}"
    # One sandbox slot: while the first trains, the second waits as queued.
    assert any({c["status"] for c in items} == {"training", "queued"} for items in seen)
    progress = tiny.events("candidate.progress")
    assert any(0 < p["env_steps"] < BUDGET and p["total"] == BUDGET for p in progress)
    checkpoints = [p["checkpoint"] for p in progress if p.get("checkpoint")]
    assert checkpoints and all("components" in c for c in checkpoints)
    statuses = [e["status"] for e in tiny.events("candidate.status")]
    assert "queued" in statuses and "training" in statuses
    assert all(c.status == "done" and c.env_steps == BUDGET for c in tiny.candidates())
