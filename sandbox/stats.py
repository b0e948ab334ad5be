"""Training statistics at checkpoints, and the heartbeat.

:class:`TrainingStats` is an SB3 callback. About ``spec.checkpoints`` times over
training it summarises the episodes that finished since the previous
checkpoint (Eureka's feedback: per reward component the mean, min and max of
the episode sums), and rewrites ``stats.json``. Every few seconds it rewrites
``heartbeat.json`` so the launcher can tell a working sandbox from a stuck one.

Shape of ``stats.json`` (strict JSON, at most ``MAX_BYTES``; numbers that were
not finite are ``null``)::

    {
      "version": 1,
      "env_id": "HalfCheetah-v5", "algorithm": "PPO",
      "reward_source": "candidate",          # candidate | env | fitness
      "fitness_metric": "forward_distance", "fitness_reduce": "sum",
      "timesteps": 100000,                   # the training target
      "steps": 100000,                       # env steps done (across resumes)
      "episodes": 100,                       # episodes finished (across resumes)
      "train_seconds": 95.2,                 # wall time in learn() (across resumes)
      "steps_per_second": 1050.3,            # env steps / s of the latest process
      "correlation": 0.93,                   # Pearson r: episode reward return vs
                                             # episode fitness, all episodes; or null
      "component_names": ["forward", "ctrl_cost"],
      "checkpoints": [
        {"steps": 10000, "episodes": 10,    # episodes finished since the previous one
         "length":     {"mean": 1000.0, "min": 1000, "max": 1000},
         "reward":     {"mean": ..., "min": ..., "max": ...},  # training reward return
         "env_reward": {...},                # the env's own reward return
         "fitness":    {...},                # per-episode fitness
         "components": {"forward": {"mean": ..., "min": ..., "max": ...}, ...}},
        ...                                  # a checkpoint with no finished episode
      ],                                     # has only steps and episodes (0)
      "truncated": false,                    # true when components or checkpoints
                                             # were dropped to fit MAX_BYTES
      "budget_note": null                    # why steps != timesteps (sandbox.budget)
    }
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from sandbox.outputs import finite_or_none, to_json, write_heartbeat, write_text
from sandbox.reward_wrapper import FinishedEpisodes, RewardWrapper
from sandbox.spec import STATS_FILE

MAX_BYTES = 64 * 1024
MAX_COMPONENTS = 32
MAX_NAME_CHARS = 64
HEARTBEAT_SECONDS = 2.0


def summary(values: Sequence[float]) -> dict[str, float | None]:
    """Mean, min and max of a non-empty list."""
    arr = np.asarray(values, dtype=np.float64)
    return {
        "mean": finite_or_none(arr.mean()),
        "min": finite_or_none(arr.min()),
        "max": finite_or_none(arr.max()),
    }


@dataclass
class Pearson:
    """Running Pearson correlation (pairwise-merged co-moments, numerically stable)."""

    n: int = 0
    mean_x: float = 0.0
    mean_y: float = 0.0
    m2_x: float = 0.0
    m2_y: float = 0.0
    c_xy: float = 0.0

    def update(self, xs: list[float], ys: list[float]) -> None:
        x, y = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
        keep = np.isfinite(x) & np.isfinite(y)
        x, y = x[keep], y[keep]
        if x.size == 0:
            return
        n_b, mx_b, my_b = x.size, float(x.mean()), float(y.mean())
        dx, dy = x - mx_b, y - my_b
        n = self.n + n_b
        delta_x, delta_y = mx_b - self.mean_x, my_b - self.mean_y
        self.m2_x += float(dx @ dx) + delta_x**2 * self.n * n_b / n
        self.m2_y += float(dy @ dy) + delta_y**2 * self.n * n_b / n
        self.c_xy += float(dx @ dy) + delta_x * delta_y * self.n * n_b / n
        self.mean_x += delta_x * n_b / n
        self.mean_y += delta_y * n_b / n
        self.n = n

    def value(self) -> float | None:
        """r, or None with fewer than two episodes or a constant side."""
        if self.n < 2 or self.m2_x <= 0.0 or self.m2_y <= 0.0:
            return None
        return finite_or_none(self.c_xy / math.sqrt(self.m2_x * self.m2_y))


class TrainingStats(BaseCallback):
    """Checkpoint summaries, the heartbeat and ``stats.json``.

    ``info`` holds the fixed header fields of the JSON (env_id, algorithm, ...).
    ``resumed`` is :meth:`state` of the run this one continues, if any.
    """

    def __init__(
        self,
        wrapper: RewardWrapper,
        output_dir: Path,
        *,
        timesteps: int,
        checkpoints: int,
        info: dict[str, Any],
        resumed: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.wrapper = wrapper
        self.output_dir = output_dir
        self.timesteps = timesteps
        self.every = max(1, timesteps // max(1, checkpoints))
        self.info = info
        prior = resumed or {}
        self.checkpoints: list[dict[str, Any]] = list(prior.get("checkpoints", []))
        self.episodes = int(prior.get("episodes", 0))
        self.prior_seconds = float(prior.get("train_seconds", 0.0))
        self.pearson = Pearson(**prior.get("pearson", {}))
        self.truncated = bool(prior.get("truncated", False))
        self.component_names: list[str] = list(prior.get("component_names", []))
        self._next_checkpoint = 0
        self._next_beat = 0.0
        self._start_time = 0.0
        self._start_steps = 0

    def _on_training_start(self) -> None:
        # learn() may be called more than once (sandbox.budget): time from the first.
        if not self._start_time:
            self._start_time = time.monotonic()
            self._start_steps = self.num_timesteps
        self._next_checkpoint = (self.num_timesteps // self.every + 1) * self.every
        write_heartbeat(self.output_dir, self.num_timesteps)

    def _on_step(self) -> bool:
        now = time.monotonic()
        if now >= self._next_beat:
            self._next_beat = now + HEARTBEAT_SECONDS
            write_heartbeat(self.output_dir, self.num_timesteps)
        if self.num_timesteps >= self._next_checkpoint:
            self._next_checkpoint += self.every * (
                1 + (self.num_timesteps - self._next_checkpoint) // self.every
            )
            self._checkpoint()
            self.write()
        return True

    def finish(self, steps: int) -> None:
        """After the last ``learn``, at ``steps`` env steps in all: the final checkpoint,
        stats.json and the heartbeat."""
        self.num_timesteps = steps
        if not self._start_time:  # nothing was left to train (a resumed run at its budget)
            self._start_time, self._start_steps = time.monotonic(), steps
        last = self.checkpoints[-1]["steps"] if self.checkpoints else -1
        if self.num_timesteps > last:
            self._checkpoint()
        self.write()
        write_heartbeat(self.output_dir, self.num_timesteps)

    def _checkpoint(self) -> None:
        done = self.wrapper.pop_finished()
        self.episodes += len(done.length)
        self.pearson.update(done.reward, done.fitness)
        self.checkpoints.append(self._summarise(done))
        self._log(self.checkpoints[-1])

    def _log(self, point: dict[str, Any]) -> None:
        """The checkpoint in SB3's logger too, so TensorBoard shows components and fitness."""
        means: dict[str, float | None] = {
            key: point[key]["mean"] for key in ("reward", "fitness") if key in point
        }
        for name, values in point.get("components", {}).items():
            means[f"component_{name}"] = values["mean"]
        for key, mean in means.items():
            if mean is not None:
                self.logger.record(f"candidate/{key}", mean)

    def _summarise(self, done: FinishedEpisodes) -> dict[str, Any]:
        point: dict[str, Any] = {"steps": int(self.num_timesteps), "episodes": len(done.length)}
        if not done.length:
            return point
        point["length"] = summary(done.length)
        point["reward"] = summary(done.reward)
        point["env_reward"] = summary(done.env_reward)
        point["fitness"] = summary(done.fitness)
        names = list(done.components)
        if len(names) > MAX_COMPONENTS:
            names, self.truncated = names[:MAX_COMPONENTS], True
        point["components"] = {n[:MAX_NAME_CHARS]: summary(done.components[n]) for n in names}
        if not self.component_names:
            self.component_names = [n[:MAX_NAME_CHARS] for n in names]
        return point

    def state(self) -> dict[str, Any]:
        """What a resumed run needs to carry these statistics on."""
        return {
            "checkpoints": self.checkpoints,
            "episodes": self.episodes,
            "train_seconds": self.train_seconds(),
            "pearson": vars(self.pearson),
            "truncated": self.truncated,
            "component_names": self.component_names,
        }

    def train_seconds(self) -> float:
        return self.prior_seconds + (time.monotonic() - self._start_time)

    def document(self) -> dict[str, Any]:
        """The stats.json document (before size capping)."""
        seconds = time.monotonic() - self._start_time
        steps = self.num_timesteps - self._start_steps
        return {
            "version": 1,
            **self.info,
            "timesteps": self.timesteps,
            "steps": int(self.num_timesteps),
            "episodes": self.episodes,
            "train_seconds": self.train_seconds(),
            "steps_per_second": steps / seconds if seconds > 0 else None,
            "correlation": self.pearson.value(),
            "component_names": self.component_names,
            "checkpoints": self.checkpoints,
            "truncated": self.truncated,
        }

    def write(self) -> None:
        write_text(self.output_dir / STATS_FILE, capped_json(self.document(), MAX_BYTES))


def capped_json(doc: dict[str, Any], max_bytes: int) -> str:
    """JSON of a stats document, thinning the checkpoint list until it fits.

    Interior checkpoints are dropped every other one (the first and last stay);
    as a last resort only the last checkpoint is kept.
    """
    text = to_json(doc)
    points = doc["checkpoints"]
    while len(text.encode()) > max_bytes and len(points) > 1:
        keep_ends = len(points) > 2
        points = [points[0], *points[1:-1][1::2], points[-1]] if keep_ends else points[-1:]
        text = to_json({**doc, "checkpoints": points, "truncated": True})
    return text
