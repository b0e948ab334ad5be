"""Training on the batched simulator end to end: the worker trains PPO on MuJoCo Warp
worlds (Warp's CPU backend here), and the trusted evaluator scores the policy on
Gymnasium's own env, as it does for the CPU path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envs import get_card
from sandbox.batched import unavailable_reason
from sandbox.spec import EVAL_FILE, POLICY_FILE, RESULT_FILE, STATS_FILE, EvalSpec, TrainSpec
from tests.sandbox.jobs import HALF_CHEETAH_REWARD, run_module

pytestmark = pytest.mark.skipif(
    unavailable_reason("HalfCheetah-v5", "mujoco_warp") is not None,
    reason="mujoco-warp is a project dependency; this only guards a partial install",
)


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


def test_candidate_trains_on_batched_worlds_and_evaluates_on_gymnasium(tmp_path: Path) -> None:
    card = get_card("HalfCheetah-v5")
    train = TrainSpec(
        env_id=card.env_id,
        fitness_metric="forward_distance",
        output_dir=str(tmp_path),
        reward_code=HALF_CHEETAH_REWARD,
        timesteps=16 * 1000,  # one whole episode in each of 16 worlds
        n_envs=16,
        hyperparams=dict(card.training.hyperparams),
        policy_kwargs=dict(card.training.policy_kwargs),
        checkpoints=2,
        simulator="mujoco_warp",
    )
    done = run_module("sandbox.train", train, "train_spec.json")
    assert done.returncode == 0, done.stderr
    assert _json(tmp_path / RESULT_FILE)["status"] == "ok"
    stats = _json(tmp_path / STATS_FILE)
    assert stats["simulator"] == "mujoco_warp"
    assert "n_steps 512 -> 32 per env" in stats["hyperparams_note"]
    point = stats["checkpoints"][-1]
    # Every world ran whole 1000-step episodes: truncation came at the time limit.
    assert point["episodes"] == 16 and point["length"]["mean"] == 1000
    assert set(stats["component_names"]) == {"forward", "ctrl_cost"}

    evaluation = EvalSpec(
        env_id=card.env_id,
        fitness_metric="forward_distance",
        policy_path=str(tmp_path / POLICY_FILE),
        output_dir=str(tmp_path),
        policy_kwargs=train.policy_kwargs,
        episodes=1,
        video=False,
    )
    done = run_module("sandbox.evaluate", evaluation, "eval_spec.json")
    assert done.returncode == 0, done.stderr
    assert _json(tmp_path / EVAL_FILE)["episode_length"] == [1000]


def test_a_card_the_batched_simulator_does_not_cover_fails_with_a_clear_error(
    tmp_path: Path,
) -> None:
    train = TrainSpec(
        env_id="Pendulum-v1",
        fitness_metric=get_card("Pendulum-v1").default_metric.name,
        output_dir=str(tmp_path),
        reward_source="env",
        timesteps=256,
        simulator="mujoco_warp",
    )
    done = run_module("sandbox.train", train, "train_spec.json")
    assert done.returncode == 1
    error = _json(tmp_path / RESULT_FILE)["error"]
    assert "simulator 'mujoco_warp' does not cover Pendulum-v1" in error
