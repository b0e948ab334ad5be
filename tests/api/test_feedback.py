"""Feedback over HTTP: stored one row per part, checked against the run's candidates."""

from __future__ import annotations

from typing import Any

from app.db.models import Candidate
from app.db.repository import set_run_status
from app.db.run_store import RunStore
from app.evolution.reflection import build_reflection
from app.evolution.selection import RULE_HUMAN, choose_parent
from app.llm.prompting import build_messages
from envs import get_card
from tests.api.conftest import AUTH, Api
from tests.api.seed import finished_iteration, queued_run


def _run_with_iteration(api: Api, **overrides: Any) -> tuple[str, list[Candidate]]:
    with api.session_factory.begin() as session:
        run = queued_run(session, feedback_mode="wait", **overrides)
        candidates = finished_iteration(session, run=run, index=0, artifacts_dir=api.artifacts_dir)
        return run.id, candidates


def test_feedback_parts_become_rows_the_next_prompt_reads(api_any_db: Api) -> None:
    run_id, (invalid, first, second) = _run_with_iteration(api_any_db)
    body = {
        "text": "it spins in place",
        "candidate_id": first.id,
        "parent_candidate_id": first.id,
        "preferences": [{"preferred": first.id, "other": second.id}],
        "continue": True,
    }
    response = api_any_db.client.post(f"/api/runs/{run_id}/feedback", json=body, headers=AUTH)
    assert response.status_code == 201, response.text
    stored = response.json()
    assert stored["iteration"] == 0  # the latest finished iteration
    assert [row["kind"] for row in stored["items"]] == ["text", "parent", "preference", "continue"]
    listed = api_any_db.client.get(f"/api/runs/{run_id}/feedback").json()["items"]
    assert [row["id"] for row in listed] == [row["id"] for row in stored["items"]]

    store = RunStore(api_any_db.session_factory)
    assert store.continue_given(run_id, 0)
    inputs = store.reflection_inputs(run_id, 1)
    choice = choose_parent(
        candidates=inputs.candidates,
        unused_feedback=inputs.unused_feedback,
        preferences=inputs.preferences,
        index=1,
        higher_is_better=True,
    )
    assert (choice.parent.id if choice.parent else None, choice.rule) == (first.id, RULE_HUMAN)
    plan = build_reflection(inputs, choice, index=1, metric_name="reach_flag")
    assert plan.reflection is not None
    assert any("it spins in place" in text for text in plan.reflection.feedback)
    assert len(plan.reflection.preferences) == 1
    assert "picked it" in (plan.reflection.parent_reason or "")


def test_continue_false_stores_only_the_text(api: Api) -> None:
    run_id, _ = _run_with_iteration(api)
    body = {"iteration": 0, "text": "more speed", "continue": False}
    stored = api.client.post(f"/api/runs/{run_id}/feedback", json=body, headers=AUTH).json()
    assert [row["kind"] for row in stored["items"]] == ["text"]
    assert stored["items"][0]["text"] == "more speed"


def test_candidate_of_another_run_is_refused(api: Api) -> None:
    run_id, _ = _run_with_iteration(api)
    _, (_, foreign, _) = _run_with_iteration(api)
    response = api.client.post(
        f"/api/runs/{run_id}/feedback", json={"parent_candidate_id": foreign.id}, headers=AUTH
    )
    assert response.status_code == 422
    error = response.json()["detail"][0]
    assert error["loc"] == ["body", "parent_candidate_id"]
    assert f"has no candidate '{foreign.id}'" in error["msg"]
    assert api.client.get(f"/api/runs/{run_id}/feedback").json()["items"] == []


def test_candidate_without_code_cannot_be_the_parent(api: Api) -> None:
    run_id, (invalid, _, _) = _run_with_iteration(api)
    response = api.client.post(
        f"/api/runs/{run_id}/feedback", json={"parent_candidate_id": invalid.id}, headers=AUTH
    )
    assert response.status_code == 422
    assert "has no code" in response.json()["detail"][0]["msg"]


def test_preference_names_two_candidates_of_the_run(api: Api) -> None:
    run_id, (_, first, _) = _run_with_iteration(api)
    same = {"preferences": [{"preferred": first.id, "other": first.id}]}
    response = api.client.post(f"/api/runs/{run_id}/feedback", json=same, headers=AUTH)
    assert response.status_code == 422
    assert "two different candidates" in response.text
    unknown = {"preferences": [{"preferred": first.id, "other": "nosuchcand"}]}
    response = api.client.post(f"/api/runs/{run_id}/feedback", json=unknown, headers=AUTH)
    assert response.json()["detail"][0]["loc"] == ["body", "preferences", 0, "other"]


def test_feedback_needs_something_to_store(api: Api) -> None:
    run_id, (_, first, _) = _run_with_iteration(api)
    empty = api.client.post(f"/api/runs/{run_id}/feedback", json={"continue": False}, headers=AUTH)
    assert empty.status_code == 422
    assert "nothing to store" in empty.text
    orphan = {"candidate_id": first.id}
    response = api.client.post(f"/api/runs/{run_id}/feedback", json=orphan, headers=AUTH)
    assert response.status_code == 422
    assert "give the text" in response.text


def test_iteration_out_of_range_or_not_finished(api: Api) -> None:
    run_id, _ = _run_with_iteration(api, iterations=2)
    body = {"iteration": 2, "continue": True}
    response = api.client.post(f"/api/runs/{run_id}/feedback", json=body, headers=AUTH)
    assert response.status_code == 422
    assert "iterations 0..1" in response.text
    with api.session_factory.begin() as session:
        fresh = queued_run(session).id
    response = api.client.post(f"/api/runs/{fresh}/feedback", json={"continue": True}, headers=AUTH)
    assert response.status_code == 409
    assert "no finished iteration" in response.json()["detail"]


def test_feedback_on_a_succeeded_run_is_kept_for_more_iterations(api: Api) -> None:
    run_id, _ = _run_with_iteration(api)
    with api.session_factory.begin() as session:
        set_run_status(session, run_id=run_id, status="succeeded")
    response = api.client.post(f"/api/runs/{run_id}/feedback", json={"text": "x"}, headers=AUTH)
    assert response.status_code == 201
    [note] = response.json()["items"]
    assert note["use"] == "arrived after the last prompt: kept for a resumed or extended run"


def test_feedback_on_unknown_run_is_404(api: Api) -> None:
    response = api.client.post("/api/runs/nosuchrun/feedback", json={"text": "x"}, headers=AUTH)
    assert response.status_code == 404
    assert api.client.get("/api/runs/nosuchrun/feedback").status_code == 404


def test_feedback_with_nothing_to_store_is_refused(api: Api) -> None:
    run_id, _ = _run_with_iteration(api)
    for body in ({}, {"continue": False}, {"iteration": 0}, {"preferences": []}):
        response = api.client.post(f"/api/runs/{run_id}/feedback", json=body, headers=AUTH)
        assert response.status_code == 422, body
        assert "nothing to store" in response.text
    listed = api.client.get(f"/api/runs/{run_id}/feedback").json()["items"]
    assert listed == []


def test_tie_and_both_bad_are_stored_as_such_and_reach_the_prompt(api_any_db: Api) -> None:
    run_id, (_, first, second) = _run_with_iteration(api_any_db)
    body = {
        "judgements": [
            {"verdict": "tie", "candidates": [first.id, second.id]},
            {"verdict": "both_bad", "candidates": [second.id, first.id]},
        ]
    }
    response = api_any_db.client.post(f"/api/runs/{run_id}/feedback", json=body, headers=AUTH)
    assert response.status_code == 201, response.text
    rows = response.json()["items"]
    assert [(r["kind"], r["candidate_id"], r["other_candidate_id"]) for r in rows] == [
        ("tie", first.id, second.id),
        ("both_bad", second.id, first.id),
    ]

    store = RunStore(api_any_db.session_factory)
    inputs = store.reflection_inputs(run_id, 1)
    assert [f.kind for f in inputs.preferences] == ["tie", "both_bad"]
    choice = choose_parent(
        candidates=inputs.candidates,
        unused_feedback=inputs.unused_feedback,
        preferences=inputs.preferences,
        index=1,
        higher_is_better=True,
    )
    plan = build_reflection(inputs, choice, index=1, metric_name="reach_flag")
    assert plan.reflection is not None
    assert sorted(plan.feedback_ids) == sorted(r["id"] for r in rows)
    card = get_card("MountainCarContinuous-v0")
    prompt = build_messages(
        card=card, metric=card.default_metric, task="reach", reflection=plan.reflection
    )[-1]["content"]
    assert "equally good" in prompt
    assert "bad: neither shows what the task asks for" in prompt


def test_a_judgement_needs_two_candidates_of_the_run(api: Api) -> None:
    run_id, (_, first, _) = _run_with_iteration(api)
    url = f"/api/runs/{run_id}/feedback"
    same = {"judgements": [{"verdict": "tie", "candidates": [first.id, first.id]}]}
    assert api.client.post(url, json=same, headers=AUTH).status_code == 422
    stranger = {"judgements": [{"verdict": "both_bad", "candidates": [first.id, "nosuchone"]}]}
    refused = api.client.post(url, json=stranger, headers=AUTH)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "judgements", 0, "candidates", 1]
    unknown = {"judgements": [{"verdict": "meh", "candidates": [first.id, "x"]}]}
    assert api.client.post(url, json=unknown, headers=AUTH).status_code == 422
