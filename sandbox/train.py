"""Train one candidate reward: ``python -m sandbox.train SPEC.json``.

The path from job spec to weights and statistics, top to bottom:

1. read the :class:`~sandbox.spec.TrainSpec`, look up the env card and metric;
2. load the candidate's ``compute_reward`` and smoke-test it on a batch of real
   states (a failure is an *invalid* candidate: exit code 3);
3. build ``n_envs`` envs -> :class:`~sandbox.reward_wrapper.RewardWrapper`
   -> VecNormalize, and an SB3 PPO or SAC model (or load both from
   ``resume_from`` to continue an earlier run);
4. learn, with :class:`~sandbox.stats.TrainingStats` writing checkpoint
   statistics and the heartbeat;
5. save the policy file (tensors only) and a checkpoint to resume from.

``result.json`` says how it ended: ``{"status": "ok"|"invalid"|"failed", "error",
"error_kind": None|"smoke"|"reward"|"training", "steps"}``. The worker reads
nothing but its spec (and ``resume_from``) and writes only under ``output_dir``.
"""

from __future__ import annotations

import json
import sys
import traceback
from functools import partial
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from envs import get_card
from envs.card import EnvCard, FitnessMetric, State
from envs.training import sb3_policy_kwargs
from sandbox.device import resolve_device
from sandbox.outputs import write_json
from sandbox.policy_file import ALGORITHMS, save_policy_file
from sandbox.reward_code import RewardContractError, RewardFn, check_reward, load_reward
from sandbox.reward_wrapper import RewardWrapper
from sandbox.spec import CHECKPOINT_DIR, POLICY_FILE, RESULT_FILE, TrainSpec, read_spec
from sandbox.stats import TrainingStats, write_heartbeat

MODEL_FILE = "model.zip"
VECNORM_FILE = "vecnormalize.pkl"
REPLAY_FILE = "replay_buffer.pkl"
STATS_STATE_FILE = "stats_state.json"
EXIT_INVALID = 3
_ERROR_CHARS = 4000


def sample_states(card: EnvCard, batch: int, seed: int) -> tuple[State, np.ndarray]:
    """``batch`` real states of one env driven by random actions, and those actions."""
    env = gym.make(card.env_id, **card.make_kwargs)
    env.action_space.seed(seed)
    env.reset(seed=seed)
    observations, infos, actions = [], [], []
    for _ in range(batch):
        action = env.action_space.sample()
        obs, _, terminated, truncated, info = env.step(action)
        observations.append(obs)
        infos.append(info)
        actions.append(action)
        if terminated or truncated:
            env.reset()
    env.close()
    return card.extract(np.stack(observations), infos), np.stack(actions)


def smoke_test(reward_fn: RewardFn, card: EnvCard, spec: TrainSpec) -> None:
    """Call the reward once on ``spec.smoke_batch`` real states (see check_reward)."""
    state, actions = sample_states(card, spec.smoke_batch, spec.seed)
    check_reward(reward_fn, state, actions)


def make_env(
    spec: TrainSpec, card: EnvCard, metric: FitnessMetric, reward_fn: RewardFn | None
) -> RewardWrapper:
    """``n_envs`` envs in one process, their reward replaced per ``spec.reward_source``."""
    venv = DummyVecEnv([partial(gym.make, spec.env_id, **card.make_kwargs)] * spec.n_envs)
    return RewardWrapper(
        venv, card=card, metric=metric, reward_source=spec.reward_source, reward_fn=reward_fn
    )


def make_model(spec: TrainSpec, wrapper: RewardWrapper) -> tuple[BaseAlgorithm, dict[str, Any]]:
    """A fresh model, or the checkpointed one (and its statistics) to continue."""
    algorithm = ALGORITHMS[spec.algorithm]
    device = resolve_device(spec.device)
    if spec.resume_from:
        checkpoint = Path(spec.resume_from)
        venv = VecNormalize.load(str(checkpoint / VECNORM_FILE), wrapper)
        venv.training = True
        model = algorithm.load(checkpoint / MODEL_FILE, env=venv, device=device)
        if (checkpoint / REPLAY_FILE).exists():
            model.load_replay_buffer(checkpoint / REPLAY_FILE)  # type: ignore[attr-defined]
        # Fresh episodes from new seeds, not a replay of the ones already trained on.
        model.set_random_seed(spec.seed + model.num_timesteps)
        return model, json.loads((checkpoint / STATS_STATE_FILE).read_text())
    venv = VecNormalize(
        wrapper,
        norm_obs=spec.normalize_obs,
        norm_reward=True,
        gamma=float(spec.hyperparams.get("gamma", 0.99)),
    )
    model = algorithm(
        "MlpPolicy",
        venv,
        seed=spec.seed,
        device=device,
        verbose=0,
        policy_kwargs=sb3_policy_kwargs(spec.policy_kwargs),
        **spec.hyperparams,
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
    """Train to ``spec.timesteps`` env steps in all; returns the steps done."""
    out = Path(spec.output_dir)
    wrapper = make_env(spec, card, metric, reward_fn)
    model, resumed = make_model(spec, wrapper)
    info = {
        "env_id": spec.env_id,
        "algorithm": spec.algorithm,
        "reward_source": spec.reward_source,
        "fitness_metric": metric.name,
        "fitness_reduce": metric.reduce,
    }
    stats = TrainingStats(
        wrapper,
        out,
        timesteps=spec.timesteps,
        checkpoints=spec.checkpoints,
        info=info,
        resumed=resumed,
    )
    model.learn(
        total_timesteps=max(0, spec.timesteps - model.num_timesteps),
        callback=stats,
        reset_num_timesteps=not spec.resume_from,
    )
    venv = model.get_vec_normalize_env()
    assert venv is not None
    save_policy_file(out / POLICY_FILE, model, venv)
    save_checkpoint(out / CHECKPOINT_DIR, model, stats)
    return int(model.num_timesteps)


def run(spec: TrainSpec) -> int:
    """Smoke-test, train and save; writes result.json and returns the exit code."""
    out = Path(spec.output_dir)
    write_heartbeat(out, 0)
    try:
        card = get_card(spec.env_id, spec.card_spec)
        metric = card.metric(spec.fitness_metric)
        reward_fn = None
        if spec.reward_source == "candidate":
            reward_fn = load_reward(spec.reward_code or "")
            smoke_test(reward_fn, card, spec)
    except RewardContractError as exc:
        return _result(out, "invalid", f"smoke test failed: {exc}", "smoke")
    except Exception:
        return _crashed(out)
    try:
        steps = train(spec, card, metric, reward_fn)
    except RewardContractError as exc:
        return _result(out, "failed", f"reward failed {exc}", "reward")
    except Exception:
        return _crashed(out)
    return _result(out, "ok", None, None, steps=steps)


def _crashed(out: Path) -> int:
    traceback.print_exc()
    return _result(out, "failed", traceback.format_exc()[-_ERROR_CHARS:], "training")


def _result(
    out: Path, status: str, error: str | None, error_kind: str | None, steps: int = 0
) -> int:
    write_json(
        out / RESULT_FILE,
        {"status": status, "error": error, "error_kind": error_kind, "steps": steps},
    )
    return {"ok": 0, "invalid": EXIT_INVALID}.get(status, 1)


def main(argv: list[str] | None = None) -> int:
    """Entry point: one argument, the path of a TrainSpec JSON file."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m sandbox.train SPEC.json", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    spec: TrainSpec = read_spec(args[0], TrainSpec)
    Path(spec.output_dir).mkdir(parents=True, exist_ok=True)
    return run(spec)


if __name__ == "__main__":
    sys.exit(main())
