"""Training on the batched simulator end to end, through the launcher as a run does:
the launcher fills the candidate's private kernel cache from the trusted one
(compiled once, outside the sandbox), the sandboxed worker trains PPO on MuJoCo
Warp worlds (Warp's CPU backend here), and the trusted evaluator scores the policy
on Gymnasium's own env, as it does for the CPU path."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from app.execution.launcher import WARP_CACHE_DIR, launch_evaluation, launch_training
from app.execution.warp_cache import DONE_MARKER, trusted_cache
from envs import get_card
from sandbox.batched import unavailable_reason
from sandbox.spec import POLICY_FILE, STATS_FILE, EvalSpec, TrainSpec
from tests.sandbox.jobs import HALF_CHEETAH_REWARD

pytestmark = pytest.mark.skipif(
    unavailable_reason("HalfCheetah-v5", "mujoco_warp") is not None,
    reason="mujoco-warp is a project dependency; this only guards a partial install",
)


def _files(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file()}


def test_candidate_trains_on_batched_worlds_and_evaluates_on_gymnasium(
    tmp_path: Path, data_dir_setting: Callable[[Path], Path]
) -> None:
    data_dir_setting(tmp_path / "data")
    card = get_card("HalfCheetah-v5")
    out = tmp_path / "candidate"
    train = TrainSpec(
        env_id=card.env_id,
        fitness_metric="forward_distance",
        output_dir=str(out),
        reward_code=HALF_CHEETAH_REWARD,
        timesteps=16 * 1000,  # one whole episode in each of 16 worlds
        n_envs=16,
        hyperparams=dict(card.training.hyperparams),
        policy_kwargs=dict(card.training.policy_kwargs),
        checkpoints=2,
        device="cpu",
        simulator="mujoco_warp",
    )
    outcome = launch_training(train, deadline_s=600.0, heartbeat_timeout_s=None)
    assert outcome.status == "ok", outcome.error

    trusted = trusted_cache(card.env_id, "cpu")
    assert (trusted / DONE_MARKER).exists()
    # The sandbox found every kernel it needed in its copy: it compiled nothing new.
    assert _files(out / WARP_CACHE_DIR) == _files(trusted) - {DONE_MARKER}

    stats = json.loads((out / STATS_FILE).read_text())
    assert stats["simulator"] == "mujoco_warp"
    assert "n_steps 512 -> 32 per env" in stats["hyperparams_note"]
    point = stats["checkpoints"][-1]
    # Every world ran one whole episode: truncation came at the time limit.
    assert point["episodes"] == 16 and point["length"]["mean"] == 1000
    assert set(stats["component_names"]) == {"forward", "ctrl_cost"}

    evaluation = EvalSpec(
        env_id=card.env_id,
        fitness_metric="forward_distance",
        policy_path=str(out / POLICY_FILE),
        output_dir=str(out),
        policy_kwargs=train.policy_kwargs,
        episodes=1,
        video=False,
    )
    scored = launch_evaluation(evaluation, deadline_s=300.0)
    assert scored.status == "ok", scored.error
    assert scored.report["episode_length"] == [1000]


def test_a_card_the_batched_simulator_does_not_cover_fails_with_a_clear_error(
    tmp_path: Path, data_dir_setting: Callable[[Path], Path]
) -> None:
    data_dir_setting(tmp_path / "data")
    train = TrainSpec(
        env_id="Pendulum-v1",
        fitness_metric=get_card("Pendulum-v1").default_metric.name,
        output_dir=str(tmp_path / "candidate"),
        reward_source="env",
        timesteps=256,
        simulator="mujoco_warp",
    )
    outcome = launch_training(train, deadline_s=120.0, heartbeat_timeout_s=None)
    assert outcome.status == "failed"
    assert "simulator 'mujoco_warp' does not cover Pendulum-v1" in (outcome.error or "")
