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
     "behaviour": {"ended_early": 2,          # episodes the env ended (a fall), not the limit
                   "state_means": {"torso_height": 1.21, ...}},  # scalar state vars, per step
     "video": "rollout.mp4" or null, "video_frames": 200, "video_fps": 25.0,
     "episodes_file": "episodes.npz" or null}  # only when the spec asks to record episodes

With ``record_episodes`` every episode's states and actions go to ``episodes.npz``
(see :mod:`sandbox.episodes`), every stride-th step of it, the stride doubling
whenever the stored numbers would pass ``episode_max_floats``. ``episodes_file``
is null when not even one step fits that cap.

Non-finite numbers are written as null. On an error nothing is written and the
process exits non-zero with the traceback on stderr.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from envs import get_card
from envs.card import EnvCard, FitnessMetric, reduce_episode
from sandbox.camera import Camera, EnvRenderCamera, MujocoCamera, is_mujoco, step_seconds
from sandbox.device import resolve_device
from sandbox.episodes import RecordedEpisode, compact, write_episodes
from sandbox.outputs import finite_or_none, write_json
from sandbox.policy_file import ObsNormalizer, build_policy, load_policy_file
from sandbox.spec import EPISODES_FILE, EVAL_FILE, VIDEO_FILE, EvalSpec, read_spec
from sandbox.video import Film, FilmPlan, VideoWriter

VIDEO_WIDTH, VIDEO_HEIGHT = 320, 240


@dataclass
class Episode:
    fitness: float
    env_return: float
    length: int
    ended_early: bool = False  # terminated (the env's own end, e.g. a fall), not the time limit
    state_means: dict[str, float] = field(default_factory=dict)  # scalar state vars, per step
    recorded: RecordedEpisode | None = None  # its stored steps, when recorded


class EpisodeRecorder:
    """Keeps every ``stride``-th step's state and action of one episode.

    The stride starts at 1 and doubles (dropping every other stored step) whenever
    the stored numbers would pass ``max_floats``; a step with more numbers than
    that is never stored (``fits`` turns False).
    """

    def __init__(self, max_floats: int) -> None:
        self.max_floats = max_floats
        self.stride = 1
        self.steps = 0
        self.fits = True
        self.per_step = 0
        self.states: list[dict[str, np.ndarray]] = []
        self.actions: list[np.ndarray] = []

    def add(self, state: dict[str, np.ndarray], action: np.ndarray) -> None:
        """One step: ``state`` as the card's extractor returns it for a batch of 1."""
        t = self.steps
        self.steps += 1
        if t == 0:
            self.per_step = sum(int(np.size(v[0])) for v in state.values()) + int(np.size(action))
            self.fits = self.per_step <= self.max_floats
        if not self.fits or t % self.stride:
            return
        self.states.append({name: compact(np.array(v[0])) for name, v in state.items()})
        self.actions.append(compact(np.array(action)))
        while len(self.actions) * self.per_step > self.max_floats:
            self.states, self.actions = self.states[::2], self.actions[::2]
            self.stride *= 2

    def episode(self, fitness: float) -> RecordedEpisode | None:
        """The recorded episode, or None when its steps did not fit."""
        if not self.fits or not self.actions:
            return None
        names = self.states[0].keys()
        states = {name: np.stack([s[name] for s in self.states]) for name in names}
        return RecordedEpisode(states, np.stack(self.actions), fitness, self.stride, self.steps)


def make_env(spec: EvalSpec, card: EnvCard) -> tuple[gym.Env, Camera | None]:
    """One env, and the camera that films it when a video is wanted."""
    kwargs = dict(card.make_kwargs)
    env = gym.make(spec.env_id, **kwargs)
    if not spec.video:
        return env, None
    if is_mujoco(env):
        model = env.unwrapped.model  # type: ignore[attr-defined]
        # Without a GPU, shadows and reflections make each frame ~6x slower; the
        # rollout video is a look at the gait and does without them.
        model.vis.quality.shadowsize = 0
        model.mat_reflectance[:] = 0
        return env, MujocoCamera(env, VIDEO_WIDTH, VIDEO_HEIGHT)
    env.close()
    env = gym.make(spec.env_id, render_mode="rgb_array", **kwargs)
    return env, EnvRenderCamera(env)


def open_film(env: gym.Env, camera: Camera, spec: EvalSpec) -> Film:
    """The film of one episode at the env's real time, written to the output folder."""
    plan = FilmPlan.for_env(
        step_seconds(env), max_steps=spec.video_max_steps, max_seconds=spec.video_max_seconds
    )
    return Film(camera.frame, VideoWriter(Path(spec.output_dir) / VIDEO_FILE, plan.fps), plan)


def run_episode(
    env: gym.Env,
    act: Callable[[np.ndarray], np.ndarray],
    card: EnvCard,
    metric: FitnessMetric,
    seed: int,
    film: Film | None = None,
    recorder: EpisodeRecorder | None = None,
) -> Episode:
    """One episode of ``act`` (observation -> action), scored by the metric on the env's state.

    With a ``recorder``, its states and actions are kept in ``Episode.recorded``."""
    obs, _ = env.reset(seed=seed)
    values: list[float] = []
    env_return = 0.0
    scalars = [v.name for v in card.state_vars if v.shape == ()]
    sums = dict.fromkeys(scalars, 0.0)
    if film is not None:
        film.after_step(0)
    while True:
        action = act(obs)
        obs, reward, terminated, truncated, info = env.step(action)
        state = card.extract(obs[None], [info])
        values.append(float(np.asarray(metric.step(state, action[None]))[0]))
        if recorder is not None:
            recorder.add(state, action)
        for name in scalars:
            sums[name] += float(np.asarray(state[name]).reshape(-1)[0])
        env_return += float(reward)
        if film is not None:
            film.after_step(len(values))
        if terminated or truncated:
            break
    steps = len(values)
    fitness = reduce_episode(np.asarray(values), metric.reduce)
    return Episode(
        fitness,
        env_return,
        steps,
        ended_early=bool(terminated),
        state_means={name: total / steps for name, total in sums.items()},
        recorded=recorder.episode(fitness) if recorder is not None else None,
    )


def evaluate(spec: EvalSpec) -> dict[str, Any]:
    """Run the episodes (the first one filmed if asked) and return the evaluation."""
    torch.set_num_threads(1)
    card = get_card(spec.env_id, spec.card_spec)
    metric = card.metric(spec.fitness_metric)
    tensors = load_policy_file(spec.policy_path)
    env, camera = make_env(spec, card)
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

    def act(obs: np.ndarray) -> np.ndarray:
        action, _ = policy.predict(normalize(obs[None]), deterministic=True)
        return action[0]

    film = open_film(env, camera, spec) if camera is not None else None
    episodes = []
    try:
        for i in range(spec.episodes):
            filming = film if i == 0 else None
            recorder = EpisodeRecorder(spec.episode_max_floats) if spec.record_episodes else None
            episodes.append(run_episode(env, act, card, metric, spec.seed + i, filming, recorder))
    finally:
        if film is not None:
            film.close()
        if camera is not None:
            camera.close()
        env.close()
    report = summarise(episodes, metric, film.writer if film is not None else None)
    if spec.record_episodes:
        report["episodes_file"] = record(episodes, Path(spec.output_dir) / EPISODES_FILE)
    return report


def record(episodes: list[Episode], path: Path) -> str | None:
    """Write the recorded episodes to ``path``; its name, or None when one did not fit."""
    recorded = [e.recorded for e in episodes]
    if any(r is None for r in recorded):
        print(
            "episodes not recorded: one step has more numbers than episode_max_floats",
            file=sys.stderr,
        )
        return None
    write_episodes(path, [r for r in recorded if r is not None])
    return path.name


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
        "behaviour": behaviour(episodes),
        "video": VIDEO_FILE if video is not None and video.frames else None,
        "video_frames": video.frames if video is not None else 0,
        "video_fps": video.fps if video is not None and video.frames else None,
    }


def behaviour(episodes: list[Episode]) -> dict[str, Any]:
    """How the policy behaved: how many episodes ended before the time limit, and the
    mean of each scalar state variable over every step of every episode."""
    steps = sum(e.length for e in episodes)
    names = list(episodes[0].state_means) if episodes else []
    means = {name: sum(e.state_means[name] * e.length for e in episodes) / steps for name in names}
    return {
        "ended_early": sum(e.ended_early for e in episodes),
        "state_means": {name: finite_or_none(value) for name, value in means.items()},
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
