"""The trusted evaluator: ``python -m sandbox.evaluate SPEC.json``.

It never imports or runs candidate code. It rebuilds the SB3 policy from the
spaces and policy kwargs, loads the weights with ``torch.load(weights_only=True)``,
normalises observations with the stored statistics, runs ``spec.episodes``
deterministic episodes (seeds ``spec.seed + i``) and scores each with the
card's fitness metric. Only this fitness selects candidates.

``evaluation.json``::

    {"status": "ok", "metric": "forward_distance", "reduce": "sum",
     "higher_is_better": true, "success_threshold": 50.0, "episodes": 5,
     "fitness": mean, "fitness_std": ..., "success_rate": 0.4,
     "env_return": mean, "env_return_std": ...,
     "episode_fitness": [...], "episode_env_return": [...],
     "episode_length": [...], "episode_success": [...],
     "video": "rollout.mp4" or null, "video_frames": 400}

Non-finite numbers are written as null. On an error nothing is written and the
process exits non-zero with the traceback on stderr.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.policies import BasePolicy

from envs import get_card
from envs.card import EnvCard, FitnessMetric, reduce_episode
from sandbox.device import resolve_device
from sandbox.outputs import write_json
from sandbox.policy_file import ObsNormalizer, build_policy, load_policy_file
from sandbox.spec import EVAL_FILE, VIDEO_FILE, EvalSpec, read_spec
from sandbox.video import VideoWriter

VIDEO_WIDTH, VIDEO_HEIGHT = 320, 240


@dataclass
class Episode:
    fitness: float
    env_return: float
    length: int


def make_env(spec: EvalSpec, card: EnvCard) -> gym.Env:
    """One env; renderable when a video is wanted (small frames where the env allows)."""
    kwargs = dict(card.make_kwargs)
    if not spec.video:
        return gym.make(spec.env_id, **kwargs)
    kwargs["render_mode"] = "rgb_array"
    try:  # MuJoCo envs render at the requested size; others take no such arguments
        env = gym.make(spec.env_id, width=VIDEO_WIDTH, height=VIDEO_HEIGHT, **kwargs)
    except TypeError:
        return gym.make(spec.env_id, **kwargs)
    model = getattr(env.unwrapped, "model", None)
    if model is not None and hasattr(model, "vis"):
        # Without a GPU, shadows and reflections make each frame ~6x slower; the
        # rollout video is a glance at the gait and does without them.
        model.vis.quality.shadowsize = 0
        model.mat_reflectance[:] = 0
    return env


def run_episode(
    env: gym.Env,
    policy: BasePolicy,
    normalize: Callable[[np.ndarray], np.ndarray],
    card: EnvCard,
    metric: FitnessMetric,
    seed: int,
    video: VideoWriter | None = None,
    max_frames: int = 0,
) -> Episode:
    """One deterministic episode, scored by the metric on the single env's state."""
    obs, _ = env.reset(seed=seed)
    values: list[float] = []
    env_return = 0.0
    if video is not None:
        video.append(env.render())  # type: ignore[arg-type]
    while True:
        action, _ = policy.predict(normalize(obs[None]), deterministic=True)
        obs, reward, terminated, truncated, info = env.step(action[0])
        state = card.extract(obs[None], [info])
        values.append(float(np.asarray(metric.step(state, action))[0]))
        env_return += float(reward)
        if video is not None and video.frames < max_frames:
            video.append(env.render())  # type: ignore[arg-type]
        if terminated or truncated:
            break
    return Episode(reduce_episode(np.asarray(values), metric.reduce), env_return, len(values))


def evaluate(spec: EvalSpec) -> dict[str, Any]:
    """Run the episodes (the first one filmed if asked) and return the evaluation."""
    torch.set_num_threads(1)
    card = get_card(spec.env_id, spec.card_spec)
    metric = card.metric(spec.fitness_metric)
    tensors = load_policy_file(spec.policy_path)
    env = make_env(spec, card)
    policy = build_policy(
        spec.algorithm,
        env.observation_space,
        env.action_space,
        spec.policy_kwargs,
        tensors,
        resolve_device(spec.device),
    )
    normalizer = ObsNormalizer.from_file(tensors)
    normalize = normalizer if normalizer is not None else _as_float32
    video = None
    if spec.video:
        fps = float(env.metadata.get("render_fps") or 30)
        video = VideoWriter(Path(spec.output_dir) / VIDEO_FILE, fps)
    episodes = []
    try:
        for i in range(spec.episodes):
            filming = video if i == 0 else None
            episodes.append(
                run_episode(
                    env,
                    policy,
                    normalize,
                    card,
                    metric,
                    spec.seed + i,
                    filming,
                    spec.video_max_steps,
                )
            )
    finally:
        if video is not None:
            video.close()
        env.close()
    return summarise(episodes, metric, video)


def summarise(
    episodes: list[Episode], metric: FitnessMetric, video: VideoWriter | None
) -> dict[str, Any]:
    """The evaluation.json document."""
    fitness = np.array([e.fitness for e in episodes])
    returns = np.array([e.env_return for e in episodes])
    success = [metric.succeeded(float(f)) for f in fitness]
    return {
        "status": "ok",
        "metric": metric.name,
        "reduce": metric.reduce,
        "higher_is_better": metric.higher_is_better,
        "success_threshold": metric.success_threshold,
        "episodes": len(episodes),
        "fitness": float(fitness.mean()),
        "fitness_std": float(fitness.std()),
        "success_rate": float(np.mean(success)),
        "env_return": float(returns.mean()),
        "env_return_std": float(returns.std()),
        "episode_fitness": fitness.tolist(),
        "episode_env_return": returns.tolist(),
        "episode_length": [e.length for e in episodes],
        "episode_success": success,
        "video": VIDEO_FILE if video is not None and video.frames else None,
        "video_frames": video.frames if video is not None else 0,
    }


def _as_float32(obs: np.ndarray) -> np.ndarray:
    return obs.astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    """Entry point: one argument, the path of an EvalSpec JSON file."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m sandbox.evaluate SPEC.json", file=sys.stderr)
        return 2
    spec: EvalSpec = read_spec(args[0], EvalSpec)
    if spec.episodes < 1:
        print(f"episodes must be at least 1, got {spec.episodes}", file=sys.stderr)
        return 2
    Path(spec.output_dir).mkdir(parents=True, exist_ok=True)
    write_json(Path(spec.output_dir) / EVAL_FILE, evaluate(spec))
    return 0


if __name__ == "__main__":
    sys.exit(main())
