"""POST /runs/{id}/extend refused with the right code: a run still going, a count
out of bounds, a run a budget stopped, an unknown run, no token. (A run extended
and run to its end: tests/evolution/test_run_extension.py.)"""

from __future__ import annotations

import pytest

from app.db.leases import claim_run
from app.db.repository import set_run_status
from app.db.run_store import RunStore
from app.run_options import MAX_ITERATIONS, MAX_RUN_ENV_STEPS, MAX_TIMESTEPS
from tests.api.conftest import AUTH, Api
from tests.api.seed import finished_iteration, queued_run


def _extend(api: Api, run_id: str, body: object) -> tuple[int, dict]:
    response = api.client.post(f"/api/runs/{run_id}/extend", json=body, headers=AUTH)
    return response.status_code, response.json()


def _finished(api: Api, **overrides: object) -> str:
    with api.session_factory.begin() as session:
        run = queued_run(session, **overrides)
        finished_iteration(session, run=run, index=0, artifacts_dir=api.artifacts_dir)
        set_run_status(session, run_id=run.id, status="succeeded")
        return run.id


def test_a_run_still_going_cannot_be_extended(api_any_db: Api) -> None:
    with api_any_db.session_factory.begin() as session:
        run_id = queued_run(session).id
    code, body = _extend(api_any_db, run_id, {"iterations": 1})
    assert code == 409 and "is queued" in body["detail"]
    with api_any_db.session_factory.begin() as session:
        assert claim_run(session, worker_id="w1", lease_seconds=60) is not None
    code, body = _extend(api_any_db, run_id, {"iterations": 1})
    assert code == 409 and "is running" in body["detail"]


@pytest.mark.parametrize(
    "body", [{"iterations": 0}, {"iterations": MAX_ITERATIONS + 1}, {}, {"iterations": "x"}]
)
def test_a_count_out_of_bounds_is_a_422(api: Api, body: object) -> None:
    code, answer = _extend(api, _finished(api), body)
    assert code == 422, answer
    assert answer["detail"][0]["loc"][-1] == "iterations"


def test_a_total_over_the_maximum_says_how_many_more_fit(api: Api) -> None:
    run_id = _finished(api, iterations=MAX_ITERATIONS - 2)
    code, answer = _extend(api, run_id, {"iterations": 3})
    assert code == 422
    [error] = answer["detail"]
    assert error["loc"] == ["body", "iterations"]
    assert f"at most {MAX_ITERATIONS}" in error["msg"] and "1 to 2 more" in error["msg"]
    stored = api.client.get(f"/api/runs/{run_id}").json()
    assert (stored["status"], stored["iterations"]) == ("succeeded", MAX_ITERATIONS - 2)
    code, extended = _extend(api, run_id, {"iterations": 2})
    assert code == 200 and extended["iterations"] == MAX_ITERATIONS


def test_a_total_over_the_env_step_cap_is_a_422(api: Api) -> None:
    run_id = _finished(api, timesteps=MAX_TIMESTEPS)  # 24 trainings: 240M env steps
    code, answer = _extend(api, run_id, {"iterations": 10})
    assert code == 422
    assert answer["detail"][0]["loc"] == ["body", "iterations"]
    assert f"per-run limit of {MAX_RUN_ENV_STEPS}" in answer["detail"][0]["msg"]


def test_a_run_its_budget_stopped_is_not_extended(api: Api) -> None:
    with api.session_factory.begin() as session:
        run = queued_run(session)
        finished_iteration(session, run=run, index=0, artifacts_dir=api.artifacts_dir)
        run_id = run.id
    store = RunStore(api.session_factory)
    reason = {"limit": "max_cost_usd", "message": "stopped searching after 1 iteration(s): $"}
    store.stop_search(run_id, reason)
    store.finish(run_id)
    code, answer = _extend(api, run_id, {"iterations": 1})
    assert code == 409 and "same limit" in answer["detail"]


def test_unknown_run_is_404_and_no_token_is_401(api: Api) -> None:
    code, answer = _extend(api, "nosuchrun", {"iterations": 1})
    assert code == 404 and "nosuchrun" in answer["detail"]
    response = api.client.post(f"/api/runs/{_finished(api)}/extend", json={"iterations": 1})
    assert response.status_code == 401
