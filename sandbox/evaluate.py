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
SIDE_BY_SIDE = 16  # episodes run at once, one policy call per step for all of them


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


class EpisodeRun:
    """One episode in progress on its own env: the metric's per-step values, the env's
    return, the sums of the scalar state variables, and its film and recorder if any."""

    def __init__(
        self,
        env: gym.Env,
        card: EnvCard,
        metric: FitnessMetric,
        seed: int,
        film: Film | None = None,
        recorder: EpisodeRecorder | None = None,
    ) -> None:
        self.env, self.card, self.metric, self.seed = env, card, metric, seed
        self.film, self.recorder = film, recorder
        self.values: list[float] = []
        self.env_return = 0.0
        self.sums = dict.fromkeys((v.name for v in card.state_vars if v.shape == ()), 0.0)
        self.terminated = False

    def reset(self) -> np.ndarray:
        obs, _ = self.env.reset(seed=self.seed)
        if self.film is not None:
            self.film.after_step(0)
        return obs

    def step(self, action: np.ndarray) -> np.ndarray | None:
        """Take ``action``; the next observation, or None when the episode ended."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        state = self.card.extract(obs[None], [info])
        self.values.append(float(np.asarray(self.metric.step(state, action[None]))[0]))
        if self.recorder is not None:
            self.recorder.add(state, action)
        for name in self.sums:
            self.sums[name] += float(np.asarray(state[name]).reshape(-1)[0])
        self.env_return += float(reward)
        if self.film is not None:
            self.film.after_step(len(self.values))
        self.terminated = bool(terminated)
        return None if terminated or truncated else obs

    def episode(self) -> Episode:
        steps = len(self.values)
        fitness = reduce_episode(np.asarray(self.values), self.metric.reduce)
        return Episode(
            fitness,
            self.env_return,
            steps,
            ended_early=self.terminated,
            state_means={name: total / steps for name, total in self.sums.items()},
            recorded=self.recorder.episode(fitness) if self.recorder is not None else None,
        )


def run_episodes(runs: list[EpisodeRun], act: Callable[[np.ndarray], np.ndarray]) -> list[Episode]:
    """Run ``runs`` side by side, each on its own env: one call of ``act`` (a batch of
    observations -> a batch of actions) per step for every episode still going. Each
    episode has its own env and seed, so it takes the steps it would take alone, up to
    the last bits a batched policy call may round differently."""
    live = {i: run.reset() for i, run in enumerate(runs)}
    while live:
        keys = list(live)
        actions = act(np.stack([live[i] for i in keys]))
        for i, action in zip(keys, actions, strict=True):
            obs = runs[i].step(action)
            if obs is None:
                del live[i]
            else:
                live[i] = obs
    return [run.episode() for run in runs]


def evaluate(spec: EvalSpec) -> dict[str, Any]:
    """Run the episodes, up to ``SIDE_BY_SIDE`` at a time with one policy call per step for
    all of them (the first episode filmed if asked), and return the evaluation."""
    torch.set_num_threads(1)
    card = get_card(spec.env_id, spec.card_spec)
    metric = card.metric(spec.fitness_metric)
    tensors = load_policy_file(spec.policy_path)
    env, camera = make_env(spec, card)
    envs = [env]
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

    def act(batch: np.ndarray) -> np.ndarray:
        actions, _ = policy.predict(normalize(batch), deterministic=True)
        return actions

    film = open_film(env, camera, spec) if camera is not None else None
    episodes: list[Episode] = []
    try:
        while len(envs) < min(spec.episodes, SIDE_BY_SIDE):
            envs.append(gym.make(spec.env_id, **card.make_kwargs))
        for first in range(0, spec.episodes, len(envs)):
            numbers = range(first, min(first + len(envs), spec.episodes))
            runs = [
                EpisodeRun(
                    each,
                    card,
                    metric,
                    spec.seed + i,
                    film if i == 0 else None,
                    EpisodeRecorder(spec.episode_max_floats) if spec.record_episodes else None,
                )
                for each, i in zip(envs, numbers, strict=False)
            ]
            episodes += run_episodes(runs, act)
    finally:
        if film is not None:
            film.close()
        if camera is not None:
            camera.close()
        for each in envs:
            each.close()
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
