"""Candidate rewards written the way an LLM writes them, and job specs with tiny
budgets, shared by the sandbox and execution tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from envs import get_card
from envs.card import EnvCard, FitnessMetric
from sandbox.evaluate import Episode, EpisodeRecorder, EpisodeRun, run_episodes
from sandbox.spec import POLICY_FILE, EvalSpec, TrainSpec
from sandbox.video import Film

PENDULUM_REWARD = """
import numpy as np

def compute_reward(state, action):
    upright = state["uprightness"]
    spin = -0.1 * np.square(state["angular_velocity"])
    effort = -0.01 * np.sum(np.square(action), axis=-1)
    total = upright + spin + effort
    return total, {"upright": upright, "spin": spin, "effort": effort}
"""

PENDULUM_TORCH_REWARD = """
import torch

def compute_reward(state, action):
    upright = state["uprightness"]
    spin = -0.1 * torch.square(state["angular_velocity"])
    effort = -0.01 * torch.sum(torch.square(action), dim=-1)
    total = upright + spin + effort
    return total, {"upright": upright, "spin": spin, "effort": effort}
"""

HALF_CHEETAH_REWARD = """
import numpy as np

def compute_reward(state, action):
    forward = state["x_velocity"]
    ctrl_cost = -0.1 * np.sum(np.square(action), axis=-1)
    return forward + ctrl_cost, {"forward": forward, "ctrl_cost": ctrl_cost}
"""


@dataclass
class Trained:
    """A finished training run: its specs, where it wrote, how the process ended."""

    train: TrainSpec
    eval: EvalSpec
    out: Path
    returncode: int
    stderr: str


def pendulum_job(out: Path, **changes: object) -> tuple[TrainSpec, EvalSpec]:
    """A Pendulum PPO job of one 1024-step rollout (4 envs x 256 steps)."""
    card = get_card("Pendulum-v1")
    train = TrainSpec(
        env_id=card.env_id,
        fitness_metric="mean_uprightness",
        output_dir=str(out),
        reward_code=PENDULUM_REWARD,
        timesteps=1024,
        n_envs=4,
        seed=1,
        normalize_obs=True,
        hyperparams={**card.training.hyperparams, "n_steps": 256, "n_epochs": 2},
        policy_kwargs=dict(card.training.policy_kwargs),
        checkpoints=4,
    )
    train = replace(train, **changes)  # type: ignore[arg-type]
    evaluation = EvalSpec(
        env_id=card.env_id,
        fitness_metric=train.fitness_metric,
        policy_path=str(Path(train.output_dir) / POLICY_FILE),
        output_dir=train.output_dir,
        algorithm=train.algorithm,
        policy_kwargs=train.policy_kwargs,
        episodes=2,
        video=False,
    )
    return train, evaluation


def run_module(module: str, spec: TrainSpec | EvalSpec, name: str) -> subprocess.CompletedProcess:
    """Run a sandbox module on ``spec`` the way the launcher does, minus the supervision."""
    path = Path(spec.output_dir) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(spec.to_json())
    env = {**os.environ, "MUJOCO_GL": "egl", "SDL_VIDEODRIVER": "dummy"}
    return subprocess.run(
        [sys.executable, "-m", module, str(path)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )


def one_episode(
    env: gym.Env,
    act: Callable[[np.ndarray], Any],
    card: EnvCard,
    metric: FitnessMetric,
    seed: int,
    film: Film | None = None,
    recorder: EpisodeRecorder | None = None,
) -> Episode:
    """One episode as the evaluator runs it (``run_episodes``), of ``act``: one
    observation -> one action."""
    [episode] = run_episodes(
        [EpisodeRun(env, card, metric, seed, film, recorder)],
        lambda batch: np.stack([np.asarray(act(obs)) for obs in batch]),
    )
    return episode
