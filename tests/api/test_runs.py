"""Runs over HTTP: create, list, read, cancel, resume, delete, export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.db.leases import claim_run
from app.db.repository import record_llm_call, set_run_status
from sandbox.batched import unavailable_reason
from tests.api.conftest import AUTH, Api, make_settings, open_api
from tests.api.seed import finished_iteration, queued_run
from tests.db.factories import CallRecord

HOPPER = {
    "env_id": "Hopper-v5",
    "task": "hop forward without falling",
    "fitness": "forward_distance",
    "iterations": 3,
    "samples": 4,
    "timesteps": 100000,
    "llm": {"model": "gpt-4o"},
}


BATCHED_HERE = unavailable_reason("Hopper-v5", "mujoco_warp")


def _batched(env_id: str) -> dict[str, Any]:
    """A run on ``env_id`` with the batched simulator and the card's own metric."""
    return {"env_id": env_id, "fitness": None, "options": {"simulator": "mujoco_warp"}}


def _create(api: Api, **overrides: Any) -> dict[str, Any]:
    response = api.client.post("/api/runs", json={**HOPPER, **overrides}, headers=AUTH)
    assert response.status_code == 201, response.text
    return response.json()


def test_created_run_is_queued_with_card_defaults(api_any_db: Api) -> None:
    run = _create(api_any_db, fitness=None, timesteps=None, llm={"offline": True})
    assert run["status"] == "queued"
    assert run["fitness_metric"] == "forward_distance"  # the card's first metric
    assert run["timesteps"] > 0
    # stored typed, every default spelled out: the same model the CLI and the form build
    assert run["llm"] == {"model": None, "base_url": None, "temperature": None, "offline": True}
    assert run["options"]["device"] == "auto" and run["options"]["eval_episodes"] == 5
    assert run["options"]["halving_rungs"] == [0.25, 0.5, 1.0]
    assert run["progress"] == {
        "iterations_done": 0,
        "iterations_total": 3,
        "candidates_done": 0,
        "candidates_total": 3 * 4 + (3 + 3) * 3,  # the top 3 reselected, then 3 sources
    }
    assert run["cost"]["calls"] == 0
    fetched = api_any_db.client.get(f"/api/runs/{run['id']}").json()
    assert fetched["task"] == HOPPER["task"]
    assert fetched["best_candidate"] is None


def test_runs_train_on_gymnasium_mujoco_unless_told(api: Api) -> None:
    run = _create(api, llm={"offline": True})
    assert run["options"]["simulator"] == "mujoco"
    assert api.client.get(f"/api/runs/{run['id']}").json()["options"]["simulator"] == "mujoco"


@pytest.mark.skipif(BATCHED_HERE is not None, reason=str(BATCHED_HERE))
def test_batched_simulator_and_its_n_envs_are_stored_with_the_run(api_any_db: Api) -> None:
    options = {"simulator": "mujoco_warp", "n_envs": 4096, "device": "cuda"}
    run = _create(api_any_db, llm={"offline": True}, options=options)
    fetched = api_any_db.client.get(f"/api/runs/{run['id']}").json()
    assert {name: fetched["options"][name] for name in options} == options


def test_a_run_on_a_metric_the_env_reward_does_not_pay_for_has_no_human_baseline(
    api: Api,
) -> None:
    backwards = _create(api, fitness="backward_distance", llm={"offline": True})
    assert backwards["env_reward_is_baseline"] is False
    told = _create(
        api, fitness="backward_distance", options={"env_reward_is_baseline": True, "final_top_k": 1}
    )
    assert told["env_reward_is_baseline"] is True
    assert told["progress"]["candidates_total"] == 3 * 4 + 3 * 3  # k = 1: no reselection


def test_runs_list_filters_and_pages(api_any_db: Api) -> None:
    ids = [_create(api_any_db, task=f"task {n}")["id"] for n in range(3)]
    _create(api_any_db, env_id="CartPole-v1", fitness=None, timesteps=None)
    api_any_db.client.post(f"/api/runs/{ids[0]}/cancel", headers=AUTH)

    page = api_any_db.client.get("/api/runs", params={"env_id": "Hopper-v5", "limit": 2}).json()
    assert (page["total"], page["limit"], page["offset"], len(page["items"])) == (3, 2, 0, 2)
    rest = api_any_db.client.get("/api/runs", params={"env_id": "Hopper-v5", "offset": 2}).json()
    assert {r["id"] for r in page["items"] + rest["items"]} == set(ids)
    cancelled = api_any_db.client.get("/api/runs", params={"status": "cancelled"}).json()
    assert [r["id"] for r in cancelled["items"]] == [ids[0]]


def test_list_items_carry_progress_and_cost_as_the_detail_does(api_any_db: Api) -> None:
    with api_any_db.session_factory.begin() as session:
        run = queued_run(session)
        finished_iteration(session, run=run, index=0, artifacts_dir=api_any_db.artifacts_dir)
        record_llm_call(
            session,
            call=CallRecord(request_hash="h", cost_usd=0.25),
            run_id=run.id,
            iteration_index=0,
        )
        started = run.id
    idle = _create(api_any_db)["id"]
    items = {r["id"]: r for r in api_any_db.client.get("/api/runs").json()["items"]}
    detail = api_any_db.client.get(f"/api/runs/{started}").json()
    assert items[started]["progress"] == detail["progress"]
    assert items[started]["progress"]["iterations_done"] == 1
    assert items[started]["progress"]["candidates_done"] > 0
    assert items[started]["cost_usd"] == detail["cost"]["cost_usd"] == 0.25
    assert items[idle]["progress"]["candidates_done"] == 0 and items[idle]["cost_usd"] == 0.0


def test_unknown_run_is_404(api: Api) -> None:
    response = api.client.get("/api/runs/nosuchrun")
    assert response.status_code == 404
    assert "nosuchrun" in response.json()["detail"]


def test_cancel_queued_run_then_resume_requeues_it(api_any_db: Api) -> None:
    run_id = _create(api_any_db)["id"]
    cancelled = api_any_db.client.post(f"/api/runs/{run_id}/cancel", headers=AUTH).json()
    assert (cancelled["status"], cancelled["cancel_requested"]) == ("cancelled", True)
    resumed = api_any_db.client.post(f"/api/runs/{run_id}/resume", headers=AUTH).json()
    assert (resumed["status"], resumed["cancel_requested"]) == ("queued", False)


def test_cancel_running_run_only_flags_it(api: Api) -> None:
    run_id = _create(api)["id"]
    with api.session_factory.begin() as session:
        assert claim_run(session, worker_id="w1", lease_seconds=60) is not None
    cancelled = api.client.post(f"/api/runs/{run_id}/cancel", headers=AUTH).json()
    assert (cancelled["status"], cancelled["cancel_requested"]) == ("running", True)


def test_cancel_of_a_finished_run_answers_409(api_any_db: Api) -> None:
    run_id = _create(api_any_db)["id"]
    with api_any_db.session_factory.begin() as session:
        set_run_status(session, run_id=run_id, status="succeeded")
    response = api_any_db.client.post(f"/api/runs/{run_id}/cancel", headers=AUTH)
    assert response.status_code == 409
    assert "already succeeded" in response.json()["detail"]
    cancelled = api_any_db.client.post(
        f"/api/runs/{_create(api_any_db)['id']}/cancel", headers=AUTH
    )
    assert cancelled.status_code == 200
    again = api_any_db.client.post(f"/api/runs/{cancelled.json()['id']}/cancel", headers=AUTH)
    assert again.status_code == 409 and "already cancelled" in again.json()["detail"]


def test_resume_refuses_queued_and_succeeded_runs(api: Api) -> None:
    run_id = _create(api)["id"]
    response = api.client.post(f"/api/runs/{run_id}/resume", headers=AUTH)
    assert response.status_code == 409
    assert "only failed or cancelled" in response.json()["detail"]
    with api.session_factory.begin() as session:
        set_run_status(session, run_id=run_id, status="succeeded")
    assert api.client.post(f"/api/runs/{run_id}/resume", headers=AUTH).status_code == 409


def test_delete_removes_rows_and_artifacts(api: Api) -> None:
    with api.session_factory.begin() as session:
        run = queued_run(session)
        finished_iteration(session, run=run, index=0, artifacts_dir=api.artifacts_dir)
        run_id = run.id
    assert (api.artifacts_dir / run_id).is_dir()
    response = api.client.delete(f"/api/runs/{run_id}", headers=AUTH)
    assert response.json() == {"id": run_id, "deleted": True, "artifacts_removed": True}
    assert not (api.artifacts_dir / run_id).exists()
    assert api.client.get(f"/api/runs/{run_id}").status_code == 404
    assert api.client.delete(f"/api/runs/{run_id}", headers=AUTH).status_code == 404


def test_delete_refuses_a_run_being_worked_on(api: Api) -> None:
    run_id = _create(api)["id"]
    with api.session_factory.begin() as session:
        claim_run(session, worker_id="w1", lease_seconds=60)
    response = api.client.delete(f"/api/runs/{run_id}", headers=AUTH)
    assert response.status_code == 409
    assert "cancel it" in response.json()["detail"]


def test_export_is_404_then_409_then_the_module(api: Api) -> None:
    assert api.client.get("/api/runs/nosuchrun/export").status_code == 404
    with api.session_factory.begin() as session:
        run = queued_run(session)
        run_id = run.id
    early = api.client.get(f"/api/runs/{run_id}/export")
    assert early.status_code == 409
    assert "no best candidate" in early.json()["detail"]
    with api.session_factory.begin() as session:
        run = queued_run(session)
        best = finished_iteration(session, run=run, index=0, artifacts_dir=api.artifacts_dir)[-1]
        run_id = run.id
    module = api.client.get(f"/api/runs/{run_id}/export")
    assert module.status_code == 200
    assert module.headers["content-type"].startswith("text/x-python")
    assert best.id in module.text
    compile(module.text, "reward.py", "exec")  # a module a user can import


def test_run_detail_reports_progress_and_best_candidate(api: Api) -> None:
    with api.session_factory.begin() as session:
        run = queued_run(session, iterations=2, samples=3, final_seeds=1)
        best = finished_iteration(session, run=run, index=0, artifacts_dir=api.artifacts_dir)[-1]
        run_id = run.id
    detail = api.client.get(f"/api/runs/{run_id}").json()
    assert detail["progress"] == {
        "iterations_done": 1,
        "iterations_total": 2,
        "candidates_done": 3,
        "candidates_total": 2 * 3 + (3 + 3) * 1,
    }
    assert detail["best_candidate"]["id"] == best.id
    assert detail["best_fitness"] == best.fitness
    assert detail["env_reward_is_baseline"] is True  # the card's default metric
    assert detail["winner_changed"] is None and detail["budget_stop"] is None
    assert detail["screening"] == {"threshold": None, "screened": 0, "env_steps_saved": 0}


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"env_id": "Hoppr-v5"}, "env_id", "known envs: Acrobot-v1"),
        ({"fitness": "speed"}, "fitness", "known: forward_distance"),
        ({"iterations": 51}, "iterations", "less than or equal to 50"),
        ({"samples": 0}, "samples", "greater than or equal to 1"),
        ({"timesteps": 10}, "timesteps", "greater than or equal to 1000"),
        ({"iterations": 50, "samples": 64, "timesteps": 1_000_000}, None, "per-run limit"),
        ({"task": "   "}, "task", "at least 1 character"),
        ({"task": "a\x00b"}, "task", "NUL"),
        ({"card_spec": "os:getcwd"}, "card_spec", "entry point"),
        ({"feedback": "sometimes"}, "feedback", "'none' or 'wait'"),
        ({"budget": 3}, "budget", "Extra inputs are not permitted"),
        ({"options": {"device": "tpu"}}, "device", "must be auto, cpu or cuda[:N], not 'tpu'"),
        ({"options": {"reward_backend": "jax"}}, "reward_backend", "'numpy' or 'torch'"),
        ({"options": {"simulator": "isaac"}}, "simulator", "'mujoco' or 'mujoco_warp'"),
        (_batched("Pendulum-v1"), "simulator", "'mujoco_warp' does not cover Pendulum-v1"),
        (_batched("CartPole-v1"), "simulator", "'mujoco_warp' does not cover CartPole-v1"),
        ({"options": {"n_envs": 257}}, "n_envs", "the most for simulator 'mujoco'"),
        (
            {"options": {"simulator": "mujoco_warp", "n_envs": 8193}},
            "n_envs",
            "n_envs 8193 is over 8192, the most for simulator 'mujoco_warp'",
        ),
    ],
)
def test_invalid_run_is_refused_with_a_clear_422(
    api: Api, change: dict[str, Any], field: str | None, words: str
) -> None:
    response = api.client.post("/api/runs", json={**HOPPER, **change}, headers=AUTH)
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert any(words in error["msg"] for error in errors), errors
    if field:
        assert any(error["loc"][-1] == field for error in errors), errors
    assert api.client.get("/api/runs").json()["total"] == 0


def test_api_key_in_request_is_refused_and_not_echoed(api: Api) -> None:
    llm = {"model": "gpt-4o", "api_key": "sk-do-not-echo"}
    response = api.client.post("/api/runs", json={**HOPPER, "llm": llm}, headers=AUTH)
    assert response.status_code == 422
    assert "REWARDFORGE_LLM_API_KEY" in response.text
    assert "sk-do-not-echo" not in response.text


def test_foreign_llm_endpoint_is_refused_when_the_server_holds_a_key(
    sqlite_url: str, tmp_path: Path
) -> None:
    settings = make_settings(
        sqlite_url,
        tmp_path / "data",
        llm_api_key="sk-server",
        llm_base_url="https://llm.internal/v1",
    )
    for api in open_api(settings):
        foreign = {"model": "m", "base_url": "https://attacker.example/v1"}
        response = api.client.post("/api/runs", json={**HOPPER, "llm": foreign}, headers=AUTH)
        assert response.status_code == 422
        assert "REWARDFORGE_LLM_BASE_URL" in response.text
        own = {"model": "m", "base_url": "https://llm.internal/v1/"}
        assert (
            api.client.post("/api/runs", json={**HOPPER, "llm": own}, headers=AUTH).status_code
            == 201
        )


def test_huge_body_is_refused_with_413(api: Api) -> None:
    body = {**HOPPER, "task": "x" * 100_000}
    response = api.client.post("/api/runs", json=body, headers=AUTH)
    assert response.status_code == 413
    assert "65536 bytes" in response.json()["detail"]


def test_huge_body_without_content_length_is_refused_with_413(api: Api) -> None:
    def chunks() -> Any:
        for _ in range(100):
            yield b" " * 1024

    response = api.client.post(
        "/api/runs", content=chunks(), headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert "65536 bytes" in response.json()["detail"]


def test_created_run_location_points_at_it(api: Api) -> None:
    response = api.client.post("/api/runs", json=HOPPER, headers=AUTH)
    assert response.headers["location"] == f"/api/runs/{response.json()['id']}"
    assert api.client.get(response.headers["location"]).json()["id"] == response.json()["id"]


def test_api_key_at_top_level_is_refused_too(api: Api) -> None:
    response = api.client.post("/api/runs", json={**HOPPER, "api_key": "sk-top"}, headers=AUTH)
    assert response.status_code == 422
    assert "REWARDFORGE_LLM_API_KEY" in response.text
    assert "sk-top" not in response.text


def test_bad_halving_options_are_a_clear_422(api: Api) -> None:
    body = {**HOPPER, "options": {"halving_rungs": [0.5, 0.2]}}
    response = api.client.post("/api/runs", json=body, headers=AUTH)
    assert response.status_code == 422
    assert "halving_rungs must be increasing" in response.text
    body["options"] = {"halving": False}
    assert api.client.post("/api/runs", json=body, headers=AUTH).status_code == 201
