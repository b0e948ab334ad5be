"""An evolved reward on one Gymnasium env, outside rewardforge.

An exported reward module calls :func:`make_evolved_env` (its ``make_env()``)
or :class:`EvolvedReward` (its ``wrap_env(env)``); a user can also wrap any env
by hand::

    env = EvolvedReward(gym.make("Pendulum-v1"), compute_reward)

Each step it reads the state the way training did (the env card's extractor,
on a batch of one), calls ``compute_reward`` and holds its answer to the same
contract (:func:`sandbox.reward_code.validate_output`). The policy sees the
evolved reward; ``info["reward_components"]`` holds its terms (they sum to the
reward) and ``info["env_reward"]`` the env's own reward. Any RL library that
takes a Gymnasium env can train on it; nothing here needs the service.
"""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np

from envs import get_card
from envs.card import EnvCard
from sandbox.reward_code import RewardFn, read_only_copy, validate_output
from sandbox.spec import RewardBackend


class EvolvedReward(gym.Wrapper):
    """``env`` with its reward replaced by ``compute_reward``'s total.

    ``card`` (or ``card_spec``, a user card's ``"package.module:factory"``)
    names how to read the state; by default the card of ``env.spec.id``.
    ``backend="torch"`` hands the reward CPU tensors, as a torch run trained it.
    """

    def __init__(
        self,
        env: gym.Env,
        compute_reward: RewardFn,
        *,
        card: EnvCard | None = None,
        card_spec: str | None = None,
        backend: RewardBackend = "numpy",
    ) -> None:
        super().__init__(env)
        if card is None:
            if env.spec is None:
                raise ValueError("the env has no spec id; pass the card of its env")
            card = get_card(env.spec.id, card_spec)
        self.card = card
        if backend == "torch":
            from sandbox.torch_reward import torch_reward

            compute_reward = torch_reward(compute_reward, "cpu")
        self._reward_fn = compute_reward

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, env_reward, terminated, truncated, info = self.env.step(action)
        # The state comes from the observation after the step, as in training.
        state = {
            name: read_only_copy(value)
            for name, value in self.card.extract(np.asarray(obs)[None], [info]).items()
        }
        batch_action = read_only_copy(np.asarray(action)[None])
        total, components = validate_output(self._reward_fn(state, batch_action), 1)
        info = {
            **info,
            "env_reward": float(env_reward),
            "reward_components": {name: float(value[0]) for name, value in components.items()},
        }
        return obs, float(total[0]), terminated, truncated, info


def make_evolved_env(
    compute_reward: RewardFn,
    *,
    env_id: str,
    card_spec: str | None = None,
    backend: RewardBackend = "numpy",
    **make_kwargs: Any,
) -> EvolvedReward:
    """``gym.make(env_id)`` with the card's settings (``make_kwargs`` on top), wrapped."""
    card = get_card(env_id, card_spec)
    env = gym.make(card.env_id, **{**card.make_kwargs, **make_kwargs})
    return EvolvedReward(env, compute_reward, card=card, backend=backend)
