"""Learn: the SB3 side of training one candidate (``sandbox.train`` runs it once the
reward has passed its smoke test, so a broken reward never waits for torch).

``n_envs`` envs -> :class:`~sandbox.reward_wrapper.RewardWrapper` -> VecNormalize
and an SB3 PPO or SAC model (or both loaded from ``resume_from`` to continue an
earlier run); :class:`~sandbox.stats.TrainingStats` writes checkpoint statistics
and the heartbeat, trained to exactly the spec's env steps (:mod:`sandbox.budget`);
at the end the policy file (tensors only) and a checkpoint to resume from. SB3
also writes TensorBoard event files (when the package is installed), capped in size.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from functools import partial
from pathlib import Path
from typing import Any

import gymnasium as gym
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecNormalize

from envs.card import EnvCard, FitnessMetric
from envs.training import sb3_policy_kwargs
from sandbox import budget
from sandbox.batched import unavailable_reason
from sandbox.batched.hyperparams import scaled_hyperparams
from sandbox.device import resolve_device
from sandbox.outputs import write_json
from sandbox.policy_file import ALGORITHMS, save_policy_file
from sandbox.reward_code import RewardFn
from sandbox.reward_wrapper import RewardWrapper
from sandbox.spec import (
    CHECKPOINT_DIR,
    POLICY_FILE,
    TENSORBOARD_DIR,
    TENSORBOARD_MAX_BYTES,
    TrainSpec,
)
from sandbox.stats import TrainingStats

MODEL_FILE = "model.zip"
VECNORM_FILE = "vecnormalize.pkl"
REPLAY_FILE = "replay_buffer.pkl"
STATS_STATE_FILE = "stats_state.json"


def make_env(
    spec: TrainSpec, card: EnvCard, metric: FitnessMetric, reward_fn: RewardFn | None
) -> RewardWrapper:
    """``n_envs`` envs in one process, their reward replaced per ``spec.reward_source``:
    Gymnasium's envs stepped in turn, or all of them batched on the device
    (``simulator="mujoco_warp"``, :mod:`sandbox.batched`)."""
    venv: VecEnv
    if spec.simulator == "mujoco":
        venv = DummyVecEnv([partial(gym.make, spec.env_id, **card.make_kwargs)] * spec.n_envs)
    else:
        reason = unavailable_reason(spec.env_id, spec.simulator)
        if reason is not None:
            raise ValueError(reason)
        from sandbox.batched.vec_env import BatchedVecEnv

        venv = BatchedVecEnv(
            spec.env_id,
            spec.n_envs,
            device=resolve_device(spec.device),
            make_kwargs=card.make_kwargs,
            seed=spec.seed,
        )
    return RewardWrapper(
        venv, card=card, metric=metric, reward_source=spec.reward_source, reward_fn=reward_fn
    )


def tensorboard_dir(spec: TrainSpec) -> str | None:
    """Where SB3 writes TensorBoard event files, or None when tensorboard is not installed
    (SB3 refuses to log without it)."""
    if importlib.util.find_spec("tensorboard") is None:
        return None
    return str(Path(spec.output_dir) / TENSORBOARD_DIR)


def cap_tensorboard(out: Path) -> None:
    """Delete the event files when they outgrow TENSORBOARD_MAX_BYTES: they are a
    convenience, and the sandbox's disk quota is for the policy and statistics."""
    folder = out / TENSORBOARD_DIR
    files = [p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()]
    if sum(p.stat().st_size for p in files) > TENSORBOARD_MAX_BYTES:
        shutil.rmtree(folder, ignore_errors=True)


def make_model(
    spec: TrainSpec, wrapper: RewardWrapper, hyperparams: dict[str, Any]
) -> tuple[BaseAlgorithm, dict[str, Any]]:
    """A fresh model, or the checkpointed one (and its statistics) to continue."""
    algorithm = ALGORITHMS[spec.algorithm]
    device = resolve_device(spec.device)
    tensorboard_log = tensorboard_dir(spec)
    if spec.resume_from:
        checkpoint = Path(spec.resume_from)
        venv = VecNormalize.load(str(checkpoint / VECNORM_FILE), wrapper)
        venv.training = True
        model = algorithm.load(
            checkpoint / MODEL_FILE, env=venv, device=device, tensorboard_log=tensorboard_log
        )
        if (checkpoint / REPLAY_FILE).exists():
            model.load_replay_buffer(checkpoint / REPLAY_FILE)  # type: ignore[attr-defined]
        # Fresh episodes from new seeds, not a replay of the ones already trained on.
        model.set_random_seed(spec.seed + model.num_timesteps)
        return model, json.loads((checkpoint / STATS_STATE_FILE).read_text())
    venv = VecNormalize(
        wrapper,
        norm_obs=spec.normalize_obs,
        norm_reward=True,
        gamma=float(hyperparams.get("gamma", 0.99)),
    )
    model = algorithm(
        "MlpPolicy",
        venv,
        seed=spec.seed,
        device=device,
        verbose=0,
        tensorboard_log=tensorboard_log,
        policy_kwargs=sb3_policy_kwargs(spec.policy_kwargs),
        **hyperparams,
    )
    return model, {}


def save_checkpoint(directory: Path, model: BaseAlgorithm, stats: TrainingStats) -> None:
    """Everything :func:`make_model` needs to continue this training later."""
    directory.mkdir(parents=True, exist_ok=True)
    model.save(directory / MODEL_FILE)
    venv = model.get_vec_normalize_env()
    assert venv is not None
    venv.save(str(directory / VECNORM_FILE))
    if hasattr(model, "save_replay_buffer"):
        model.save_replay_buffer(directory / REPLAY_FILE)
    write_json(directory / STATS_STATE_FILE, stats.state())


def train(spec: TrainSpec, card: EnvCard, metric: FitnessMetric, reward_fn: RewardFn | None) -> int:
    """Train to ``spec.timesteps`` env steps in all (see :mod:`sandbox.budget`); returns
    the steps done."""
    torch.set_num_threads(1)
    out = Path(spec.output_dir)
    wrapper = make_env(spec, card, metric, reward_fn)
    hyperparams, scaled_note = dict(spec.hyperparams), None
    if spec.simulator != "mujoco":
        hyperparams, scaled_note = scaled_hyperparams(
            spec.algorithm, hyperparams, spec.tuned_n_envs or card.training.n_envs, spec.n_envs
        )
    model, resumed = make_model(spec, wrapper, hyperparams)
    steps = budget.plan(spec.timesteps, model.num_timesteps, spec.n_envs)
    info = {
        "env_id": spec.env_id,
        "algorithm": spec.algorithm,
        "reward_source": spec.reward_source,
        "fitness_metric": metric.name,
        "fitness_reduce": metric.reduce,
        "budget_note": steps.note,
        "simulator": spec.simulator,
    }
    if scaled_note:
        info["hyperparams_note"] = scaled_note
    stats = TrainingStats(
        wrapper,
        out,
        timesteps=spec.timesteps,
        checkpoints=spec.checkpoints,
        info=info,
        resumed=resumed,
    )
    budget.learn(model, steps, stats, fresh=not spec.resume_from)
    stats.finish(model.num_timesteps)
    venv = model.get_vec_normalize_env()
    assert venv is not None
    save_policy_file(out / POLICY_FILE, model, venv)
    save_checkpoint(out / CHECKPOINT_DIR, model, stats)
    cap_tensorboard(out)
    return int(model.num_timesteps)
