"""The per-step reward wrapper on real envs: which reward the policy gets, the
per-episode totals, and how a reward that breaks mid-training is reported."""

from __future__ import annotations

from functools import partial

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.vec_env import DummyVecEnv

from envs import get_card
from envs.card import reduce_episode
from sandbox.reward_code import RewardContractError, load_reward
from sandbox.reward_wrapper import RewardWrapper
from tests.sandbox.jobs import PENDULUM_REWARD

EPISODE = 200  # Pendulum's time limit


def _wrapper(source: str | None, reward_source: str = "candidate", n_envs: int = 2):
    card = get_card("Pendulum-v1")
    venv = DummyVecEnv([partial(gym.make, card.env_id)] * n_envs)
    venv.seed(0)
    reward_fn = load_reward(source) if source else None
    wrapper = RewardWrapper(
        venv,
        card=card,
        metric=card.metric("mean_uprightness"),
        reward_source=reward_source,  # type: ignore[arg-type]
        reward_fn=reward_fn,
    )
    wrapper.reset()
    return wrapper


def _actions(steps: int, n_envs: int) -> np.ndarray:
    return np.random.default_rng(0).uniform(-2, 2, size=(steps, n_envs, 1)).astype(np.float32)


def test_episode_totals_match_a_replay_of_the_same_episode() -> None:
    wrapper = _wrapper(PENDULUM_REWARD, n_envs=1)
    actions = _actions(EPISODE, 1)
    for action in actions:
        wrapper.step(action)
    done = wrapper.pop_finished()
    assert done.length == [EPISODE]

    # Replay step by step on a plain env: the last step must be scored on the
    # terminal observation, not on the observation after the automatic reset.
    card, fn = get_card("Pendulum-v1"), load_reward(PENDULUM_REWARD)
    env = gym.make("Pendulum-v1")
    env.reset(seed=0)
    env_return, uprightness, components = 0.0, [], {"upright": 0.0, "spin": 0.0, "effort": 0.0}
    for action in actions:
        obs, reward, _, _, info = env.step(action[0])
        state = card.extract(obs[None], [info])
        env_return += float(reward)
        uprightness.append(float(state["uprightness"][0]))
        for name, value in fn(state, action)[1].items():
            components[name] += float(value[0])
    assert done.env_reward[0] == pytest.approx(env_return, rel=1e-5)
    assert done.fitness[0] == pytest.approx(reduce_episode(np.array(uprightness), "mean"))
    for name, total in components.items():
        assert done.components[name][0] == pytest.approx(total, rel=1e-6)
    assert done.reward[0] == pytest.approx(sum(components.values()), rel=1e-6)


def test_env_source_hands_the_policy_the_env_reward() -> None:
    wrapper = _wrapper(None, reward_source="env")
    for action in _actions(EPISODE, 2):
        _, reward, _, _ = wrapper.step(action)
    done = wrapper.pop_finished()
    assert len(done.reward) == 2
    assert done.reward == pytest.approx(done.env_reward)
    assert done.components == {}
    assert reward.dtype == np.float32


def test_fitness_source_pays_the_success_threshold_for_a_mean_metric() -> None:
    wrapper = _wrapper(None, reward_source="fitness")
    metric = get_card("Pendulum-v1").metric("mean_uprightness")
    rewards = np.array([wrapper.step(action)[1] for action in _actions(EPISODE, 2)])
    done = wrapper.pop_finished()
    # mean_uprightness is not a sum: the sparse reward is 1 on steps past the threshold.
    assert set(np.unique(rewards)) <= {0.0, 1.0}
    assert metric.reduce == "mean" and len(done.fitness) == 2


def test_nan_mid_training_reports_the_step_and_the_state() -> None:
    source = PENDULUM_REWARD.replace(
        "    total = upright + spin + effort",
        "    global calls\n    calls = globals().get('calls', 0) + 1\n"
        "    if calls == 30:\n        spin = spin.copy()\n        spin[1] = np.nan\n"
        "    total = upright + spin + effort",
    )
    wrapper = _wrapper(source)
    with pytest.raises(RewardContractError) as err:
        for action in _actions(50, 2):
            wrapper.step(action)
    message = str(err.value)
    assert message.startswith("at training step 30 (env steps 60): total is not finite for env 1")
    assert "spin=nan" in message
    assert "state of env 1: angle=" in message
    assert err.value.env_index == 1


def test_writing_into_state_during_training_is_an_error() -> None:
    source = PENDULUM_REWARD.replace(
        '    upright = state["uprightness"]', '    upright = state["uprightness"]\n    upright *= 2'
    )
    wrapper = _wrapper(source)
    with pytest.raises(RewardContractError, match="at training step 1 .*read-only"):
        wrapper.step(_actions(1, 2)[0])


def test_changing_component_names_is_an_error() -> None:
    source = PENDULUM_REWARD.replace('"effort": effort}', '"effort": effort, **extra}').replace(
        "    total = upright",
        "    global n\n    n = globals().get('n', 0) + 1\n"
        "    extra = {'late': 0 * upright} if n > 3 else {}\n    total = upright",
    )
    wrapper = _wrapper(source)
    with pytest.raises(RewardContractError, match="component names changed during training"):
        for action in _actions(5, 2):
            wrapper.step(action)
