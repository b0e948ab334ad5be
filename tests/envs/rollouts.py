"""Short random rollouts of a card's real env, batched the way the training
worker batches them (SB3's DummyVecEnv: infos as one dict per env, the terminal
observation in place of the reset one)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import DummyVecEnv

from envs.card import EnvCard, State

BATCH = 3
STEPS = 60  # past Reacher's 50-step limit, so a time-limit end is seen too

Truth = Callable[[Any], dict[str, Any]]
"""Reads variables straight from an env's simulator (``env.unwrapped``); it returns
copies, since the simulator's arrays change with the next step."""


@dataclass
class Step:
    """One batched step and what the card and the simulator say about it."""

    state: State
    action: np.ndarray
    terminated: np.ndarray  # (B,) bool: ended by the env itself, not the time limit
    done: np.ndarray  # (B,) bool: ended for any reason (the env was then reset)
    truth: list[dict[str, Any] | None]  # per env; None where the env was reset


def _actions(venv: DummyVecEnv) -> np.ndarray:
    return np.stack([env.action_space.sample() for env in venv.envs])


def rollout(card: EnvCard, truth: Truth | None = None, steps: int = STEPS) -> list[Step]:
    """``steps`` random steps of ``BATCH`` seeded envs, each passed through ``card.extract``."""
    venv = DummyVecEnv([partial(gym.make, card.env_id, **card.make_kwargs)] * BATCH)
    venv.seed(0)
    for i, env in enumerate(venv.envs):
        env.action_space.seed(i)
    venv.reset()
    out = []
    try:
        for _ in range(steps):
            action = _actions(venv)
            obs, _, done, infos = venv.step(action)
            obs = np.array(obs)
            for i, info in enumerate(infos):
                if done[i]:
                    obs[i] = info["terminal_observation"]
            terminated = done & ~np.array([info["TimeLimit.truncated"] for info in infos])
            seen = [
                None if done[i] or truth is None else truth(env.unwrapped)
                for i, env in enumerate(venv.envs)
            ]
            out.append(Step(card.extract(obs, infos), action, terminated, done, seen))
    finally:
        venv.close()
    return out
