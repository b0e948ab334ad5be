"""A spec's ``timesteps`` is what trains: no whole extra rollout, with a note when the
envs' lockstep makes it inexact (real PPO and SAC, tiny budgets)."""

from __future__ import annotations

import json
from pathlib import Path

from sandbox.budget import Budget, plan, rollout_phases
from sandbox.spec import CHECKPOINT_DIR, HEARTBEAT_FILE, RESULT_FILE, STATS_FILE
from tests.sandbox.jobs import pendulum_job, run_module


def _train(out: Path, **changes: object) -> tuple[dict, dict]:
    train, _ = pendulum_job(out, **changes)
    done = run_module("sandbox.train", train, "train_spec.json")
    assert done.returncode == 0, done.stderr
    return json.loads((out / RESULT_FILE).read_text()), json.loads((out / STATS_FILE).read_text())


def test_plan_rounds_to_whole_env_steps_and_says_why() -> None:
    assert plan(500, 0, 4) == Budget(0, 500)
    assert plan(1030, 0, 4) == Budget(0, 1028, plan(1030, 0, 4).note)
    assert "rounded to a multiple of 4" in (plan(1030, 0, 4).note or "")
    assert plan(3, 0, 4).target == 4  # every env steps at least once
    assert plan(1000, 1000, 4) == Budget(1000, 1000)
    assert "past the budget of 500" in (plan(500, 1024, 4).note or "")


def test_rollout_phases_are_whole_rollouts_then_one_shorter() -> None:
    assert rollout_phases(500, 256, 4) == [(125, 500)]
    assert rollout_phases(2048, 256, 4) == [(256, 2048)]
    assert rollout_phases(2548, 256, 4) == [(256, 2048), (125, 500)]


def test_a_small_ppo_budget_trains_exactly_that_many_steps(tmp_path: Path) -> None:
    # One rollout is 4 envs x 256 steps = 1024: SB3 alone trains 1024 for a 500-step rung.
    result, stats = _train(tmp_path, timesteps=500)
    assert result["steps"] == stats["steps"] == stats["timesteps"] == 500
    assert stats["budget_note"] is None
    assert stats["checkpoints"][-1]["steps"] == 500
    assert json.loads((tmp_path / HEARTBEAT_FILE).read_text())["steps"] == 500


def test_a_resumed_rung_continues_to_its_budget_and_rounds_with_a_note(tmp_path: Path) -> None:
    first, stats = _train(tmp_path / "rung0", timesteps=1030)
    assert first["steps"] == stats["steps"] == 1028  # 4 envs: 1030 is no whole env step
    assert "trained 1028 env steps, not 1030" in stats["budget_note"]
    second, stats = _train(
        tmp_path / "rung1",
        timesteps=2548,  # a whole rollout (1024) and then 124 steps of each env
        resume_from=str(tmp_path / "rung0" / CHECKPOINT_DIR),
    )
    assert second["steps"] == stats["steps"] == 2548
    assert stats["budget_note"] is None


def test_sac_stops_collecting_at_the_budget(tmp_path: Path) -> None:
    # Collecting 16 steps of each of 2 envs at a time, SB3 alone would end at 160.
    result, stats = _train(
        tmp_path,
        algorithm="SAC",
        fitness_metric="upright_steps",
        reward_source="fitness",
        timesteps=150,
        n_envs=2,
        hyperparams={"learning_starts": 64, "batch_size": 32, "buffer_size": 1000}
        | {"train_freq": 16},
        policy_kwargs={"net_arch": [32, 32]},
    )
    assert result["steps"] == stats["steps"] == 150
