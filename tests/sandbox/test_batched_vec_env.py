"""The batched VecEnv as SB3 drives it: worlds that end on their own, and SAC."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from envs import get_card
from sandbox.batched import unavailable_reason
from sandbox.reward_wrapper import RewardWrapper

pytestmark = pytest.mark.skipif(
    unavailable_reason("Hopper-v5", "mujoco_warp") is not None,
    reason="mujoco-warp is a project dependency; this only guards a partial install",
)


def _hopper(n: int):
    from sandbox.batched.vec_env import BatchedVecEnv

    return BatchedVecEnv("Hopper-v5", n, device="cpu", seed=3)


def test_a_world_that_falls_restarts_alone_and_the_others_go_on() -> None:
    venv = _hopper(8)
    obs = venv.reset()
    init_height = venv.task.init_qpos[1]
    rng = np.random.default_rng(0)
    partial_ends = 0
    for _ in range(80):
        before = venv._elapsed.clone()
        obs, _, dones, infos = venv.step(rng.uniform(-1, 1, (8, 3)).astype(np.float32))
        if 0 < dones.sum() < 8:
            partial_ends += 1
        for i in range(8):
            if dones[i]:
                terminal = infos[i]["terminal_observation"]
                # The policy sees the new episode's first observation; the terminal one
                # (a fallen hopper) is in the info, as a DummyVecEnv reports it.
                assert abs(obs[i][0] - init_height) <= venv.task.noise_scale + 1e-6
                assert not np.allclose(terminal, obs[i])
                assert infos[i]["TimeLimit.truncated"] is False
                assert venv._elapsed[i] == 0
            else:
                assert "terminal_observation" not in infos[i]
                assert venv._elapsed[i] == before[i] + 1
    assert partial_ends > 0, "random actions should fell some hoppers before others"


def test_sac_trains_on_worlds_whose_episodes_end_at_different_steps() -> None:
    from stable_baselines3 import SAC
    from stable_baselines3.common.vec_env import VecNormalize

    torch.set_num_threads(1)
    card = get_card("Hopper-v5")
    wrapper = RewardWrapper(
        _hopper(8), card=card, metric=card.default_metric, reward_source="env", reward_fn=None
    )
    model = SAC("MlpPolicy", VecNormalize(wrapper), learning_starts=100, batch_size=64, seed=0)
    model.learn(1000)
    finished = wrapper.pop_finished()
    assert len(finished.length) >= 8 and len(set(finished.length)) > 1
    assert all(np.isfinite(finished.fitness)) and all(np.isfinite(finished.env_reward))
