"""Budgets: at a limit on env steps, LLM cost or wall time the search stops, the run
finalises what it has and says why it stopped."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.db.models import Run
from app.run_options import RunSpec
from app.run_prepare import RunOptionError, prepare_run
from tests.evolution.runs import TinyRun, new_run
from tests.evolution.scripted import ScriptedExecutor, reward_code
from tests.fake_llm import FakeLLMServer, Reply

OPTIONS = {"eval_episodes": 1, "video": False, "halving": False}


def _final(tiny: TinyRun) -> dict:  # type: ignore[type-arg]
    with tiny.factory() as session:
        run = session.get(Run, tiny.run_id)
        assert run is not None
        return dict(run.final)


def test_the_env_step_budget_stops_before_an_iteration_that_would_pass_it(
    tmp_path: Path,
) -> None:
    # 2 samples x 1024 steps per iteration, no final test: 4096 steps fit two iterations.
    tiny = new_run(tmp_path / "data", iterations=5, options={**OPTIONS, "max_env_steps": 4096})
    assert tiny.execute(ScriptedExecutor()) == "succeeded"
    assert {c.iteration_index for c in tiny.candidates()} == {0, 1}
    budget = _final(tiny)["budget"]
    assert budget["limit"] == "max_env_steps" and budget["iterations_done"] == 2
    assert budget["used"]["env_steps"] == 4096
    assert "stopped searching after 2 iteration(s)" in budget["message"]
    assert tiny.events("run.budget") == [budget]


def test_the_env_step_budget_keeps_room_for_the_final_test(tmp_path: Path) -> None:
    # k=1, 1 final seed: 3 final trainings of 1024; 2 iterations + finals = 7168 steps.
    tiny = new_run(
        tmp_path / "data",
        iterations=5,
        final_seeds=1,
        options={**OPTIONS, "final_top_k": 1, "max_env_steps": 7168},
    )
    assert tiny.execute(ScriptedExecutor()) == "succeeded"
    assert sum(c.env_steps for c in tiny.candidates()) == 7168
    final = _final(tiny)
    assert final["budget"]["iterations_done"] == 2 and final["candidate"]["mean"] is not None


def test_a_budget_that_fits_no_iteration_is_refused() -> None:
    spec = RunSpec.model_validate(
        {
            "env_id": "MountainCarContinuous-v0",
            "task": "reach the flag",
            "timesteps": 1024,
            "samples": 2,
            "final_seeds": 1,
            "options": {"max_env_steps": 2048},
        }
    )
    with pytest.raises(RunOptionError, match="max_env_steps 2048 does not fit"):
        prepare_run(spec)


def test_the_cost_budget_stops_the_search_once_the_llm_calls_cost_that_much(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REWARDFORGE_LLM_PRICE_IN_PER_MTOK", "1000000")  # $1 a prompt token
    monkeypatch.setenv("REWARDFORGE_LLM_PRICE_OUT_PER_MTOK", "0")
    answer = f"```python\n{reward_code(0.5)}```\n"
    with FakeLLMServer(default=Reply([answer])) as llm:
        tiny = new_run(
            tmp_path / "data",
            iterations=4,
            llm={"model": "fake-model", "base_url": llm.base_url},
            options={**OPTIONS, "max_cost_usd": 1.0},
        )
        assert tiny.execute(ScriptedExecutor()) == "succeeded"
        assert len(llm.chat_requests) == 1
    budget = _final(tiny)["budget"]
    assert budget["limit"] == "max_cost_usd" and budget["iterations_done"] == 1
    assert budget["used"]["cost_usd"] >= 1.0


def test_the_wall_time_budget_stops_the_search(tmp_path: Path) -> None:
    tiny = new_run(tmp_path / "data", iterations=3, options={**OPTIONS, "max_wall_s": 0.001})
    assert tiny.execute(ScriptedExecutor()) == "succeeded"
    assert {c.iteration_index for c in tiny.candidates()} == {0}
    assert _final(tiny)["budget"]["limit"] == "max_wall_s"
    assert tiny.seen("run.budget")[0]["limit"] == "max_wall_s"
