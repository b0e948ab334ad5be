"""A run that has finished, given more iterations through the API: the loop goes on at
the next iteration, the note filed after the last prompt reaches the extension's first
prompt, and the final evaluation runs again over the whole search."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from app.db.models import Iteration, Run
from app.db.run_store import RunStore
from tests.api.conftest import AUTH, Api, make_settings, open_api
from tests.evolution.runs import TinyRun, new_run
from tests.evolution.scripted import ScriptedExecutor, reward_code
from tests.fake_llm import FakeLLMServer, Reply

NOTE = "late note 7c1f: keep the car off the left wall"


def _answer(fitness: float, tag: str) -> Reply:
    return Reply([f"Here is the reward.\n\n```python\n{reward_code(fitness, tag)}```\n"])


def _one_iteration_run(llm: FakeLLMServer, data_dir: Path, **options: Any) -> TinyRun:
    """A 1 x 1 run whose model answers 0.4 first and 0.9 for the extension."""
    llm.enqueue(_answer(0.4, "first"), _answer(0.9, "extension"))
    llm_options = {"model": "fake-model", "base_url": llm.base_url}
    return new_run(data_dir, llm=llm_options, iterations=1, samples=1, **options)


@contextmanager
def _api_on(tiny: TinyRun) -> Iterator[Api]:
    """The API on the run's own database, as ``rewardforge serve`` would be."""
    yield from open_api(make_settings(tiny.url, tiny.data_dir))


def _stored(tiny: TinyRun) -> Run:
    with tiny.factory() as session:
        run = session.get(Run, tiny.run_id)
        assert run is not None
        return run


def _prompts(tiny: TinyRun) -> list[str]:
    with tiny.factory() as session:
        rows = session.query(Iteration).filter_by(run_id=tiny.run_id).order_by(Iteration.index)
        return ["\n".join(m["content"] for m in it.messages) for it in rows]


def _uses(api: Api, run_id: str) -> dict[str, str]:
    items = api.client.get(f"/api/runs/{run_id}/feedback").json()["items"]
    return {item["text"]: item["use"] for item in items if item["kind"] == "text"}


def test_an_extended_run_searches_on_with_the_late_note_and_finalises_again(
    tmp_path: Path,
) -> None:
    with FakeLLMServer() as llm:
        tiny = _one_iteration_run(llm, tmp_path / "data", final_seeds=1)
        assert tiny.execute(ScriptedExecutor()) == "succeeded"
        first = _stored(tiny)
        assert first.final["candidate"]["mean"] == 0.4
        old_finals = {c.id for c in tiny.candidates() if c.kind == "final"}
        assert len(old_finals) == 3

        with _api_on(tiny) as api:
            base = f"/api/runs/{tiny.run_id}"
            sent = api.client.post(f"{base}/feedback", json={"text": NOTE}, headers=AUTH)
            assert sent.status_code == 201, sent.text
            assert _uses(api, tiny.run_id)[NOTE] == (
                "arrived after the last prompt: kept for a resumed or extended run"
            )
            response = api.client.post(f"{base}/extend", json={"iterations": 1}, headers=AUTH)
            assert response.status_code == 200, response.text
            extended: dict[str, Any] = response.json()
            assert (extended["status"], extended["iterations"]) == ("queued", 2)
            assert extended["final"] == {} and extended["normalized_score"] is None
            assert extended["progress"]["iterations_total"] == 2
            assert _uses(api, tiny.run_id)[NOTE] == "waiting for iteration 1's prompt"

            assert tiny.execute(ScriptedExecutor()) == "succeeded"

            prompts = _prompts(tiny)
            assert len(prompts) == 2
            assert NOTE not in prompts[0] and NOTE in prompts[1]
            assert _uses(api, tiny.run_id)[NOTE] == "used in iteration 1's prompt"
            detail = api.client.get(base).json()
            assert detail["progress"]["iterations_done"] == 2

    # The final evaluation ran again over both iterations and chose the extension's reward.
    run = _stored(tiny)
    search = {c.fitness: c for c in tiny.candidates() if c.kind == "search"}
    assert sorted(search) == [0.4, 0.9] and search[0.9].iteration_index == 1
    assert run.best_candidate_id == search[0.9].id
    assert run.final["candidate"]["mean"] == 0.9
    assert run.final["reselection"]["winner_id"] == search[0.9].id
    finals = [c for c in tiny.candidates() if c.kind == "final"]
    assert len(finals) == 3 and not old_finals & {c.id for c in finals}
    assert {c.iteration_index for c in finals} == {2}  # after the two search iterations
    # The evaluation it replaced is kept in the event that says so.
    [event] = tiny.events("run.extended")
    assert (event["previous_iterations"], event["iterations"]) == (1, 2)
    replaced = event["superseded"]
    assert replaced["final"]["candidate"]["mean"] == 0.4
    assert replaced["normalized_score"] == first.normalized_score
    assert {c["id"] for c in replaced["candidates"]} == old_finals
    # Its trainings were spent all the same: the env-step budget still counts them.
    trained = sum(c.env_steps for c in tiny.candidates())
    steps, _, _ = RunStore(tiny.factory).budget_used(tiny.run_id)
    assert steps == trained + replaced["env_steps"] and replaced["env_steps"] == 3 * 1024


def test_extending_a_run_that_waits_for_feedback_is_the_go_ahead(tmp_path: Path) -> None:
    with FakeLLMServer() as llm:
        tiny = _one_iteration_run(
            llm, tmp_path / "data", feedback_mode="wait", feedback_timeout_s=60
        )
        assert tiny.execute(ScriptedExecutor()) == "succeeded"
        with _api_on(tiny) as api:
            response = api.client.post(
                f"/api/runs/{tiny.run_id}/extend", json={"iterations": 1}, headers=AUTH
            )
            assert response.status_code == 200, response.text
        assert tiny.execute(ScriptedExecutor()) == "succeeded"
    # No wait after iteration 0: asking for more iterations said continue.
    assert tiny.events("feedback.waiting") == []
    assert len(_prompts(tiny)) == 2
