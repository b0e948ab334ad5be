"""The EnvCard: everything rewardforge knows about one environment.

A card is the environment abstraction of Text2Reward: the LLM sees the table of
state variables (name, shape, meaning, unit), the reward code reads them from a
``state`` dict, and the trusted fitness metrics score trained policies. Cards are
plain data plus pure functions over numpy arrays, so both the sandboxed training
worker and the trusted evaluator can import them without importing ``app``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

State = dict[str, np.ndarray]
"""Named batched arrays: every value has a leading batch dimension B."""

Extractor = Callable[[np.ndarray, Sequence[Mapping[str, Any]]], State]
"""(obs of shape (B, obs_dim), infos: B step-info dicts) -> State.

``obs`` is the observation *after* the step (the terminal observation for envs
that just ended), ``infos`` the info dicts Gymnasium returned for that step.
"""

Reduce = Literal["sum", "mean", "max", "min", "last"]


@dataclass(frozen=True)
class StateVar:
    """One named state variable, as the prompt shows it to the LLM."""

    name: str
    shape: tuple[int, ...]  # per env, without the batch dimension; () for a scalar
    description: str
    unit: str = ""


@dataclass(frozen=True)
class FitnessMetric:
    """A trusted, ground-truth measure of the task, computed per episode.

    ``step`` maps the batched state (and the batched action) to a per-step value of
    shape (B,); ``reduce`` folds one episode's per-step values into its fitness.
    ``expression`` is the same per-step value as a Python expression over
    ``state`` and ``action`` (used by the offline proposer as its progress term).
    An episode succeeds when its fitness >= ``success_threshold`` (or <= for
    metrics where lower is better).
    """

    name: str
    description: str
    step: Callable[[State, np.ndarray], np.ndarray]
    reduce: Reduce
    success_threshold: float
    expression: str
    higher_is_better: bool = True
    unit: str = ""

    def succeeded(self, fitness: float) -> bool:
        if self.higher_is_better:
            return fitness >= self.success_threshold
        return fitness <= self.success_threshold


@dataclass(frozen=True)
class ShapingTerm:
    """A reward term the offline proposer may use: a Python expression over
    ``state`` and ``action`` (numpy as ``np``) giving shape (B,), and the sign
    that helps (+1 a bonus, -1 a penalty).

    ``env_weight`` is the weight the env's own reward gives this term (None: the
    env's reward has no such term). The offline proposer's first sample is the
    env's reward rebuilt from these weights, with its task term replaced by the
    fitness metric's: the human-written reward as a starting point.
    """

    name: str
    expression: str
    sign: float = 1.0
    env_weight: float | None = None


@dataclass(frozen=True)
class TrainingDefaults:
    """Default algorithm and budget for a candidate (rl-baselines3-zoo facts)."""

    algorithm: Literal["PPO", "SAC"] = "PPO"
    timesteps: int = 200_000
    n_envs: int = 4
    normalize_obs: bool = True
    hyperparams: dict[str, Any] = field(default_factory=dict)  # SB3 constructor kwargs
    policy_kwargs: dict[str, Any] = field(default_factory=dict)

    def spec_fields(self) -> dict[str, Any]:
        """These settings as keyword arguments of ``sandbox.spec.TrainSpec`` (copies)."""
        return {
            "algorithm": self.algorithm,
            "n_envs": self.n_envs,
            "normalize_obs": self.normalize_obs,
            "hyperparams": dict(self.hyperparams),
            "policy_kwargs": dict(self.policy_kwargs),
            "tuned_n_envs": self.n_envs,
        }


@dataclass(frozen=True)
class EnvCard:
    """One environment of the catalog."""

    env_id: str
    description: str  # the body, the goal of the env's own reward, episode ends
    action_description: str  # what each action dimension does, with its range
    state_vars: tuple[StateVar, ...]
    extract: Extractor
    fitness_metrics: tuple[FitnessMetric, ...]
    shaping_terms: tuple[ShapingTerm, ...] = ()
    training: TrainingDefaults = field(default_factory=TrainingDefaults)
    # Settings for a candidate that trains on a small fraction of ``training.timesteps``
    # (see envs.zoo.SHORT_BUDGET); None: the card's settings at any budget.
    short_training: TrainingDefaults | None = None
    make_kwargs: dict[str, Any] = field(default_factory=dict)  # passed to gym.make
    version: int = 1  # bump instead of editing what stored runs were made with

    def metric(self, name: str) -> FitnessMetric:
        for metric in self.fitness_metrics:
            if metric.name == name:
                return metric
        known = ", ".join(m.name for m in self.fitness_metrics)
        raise KeyError(f"{self.env_id} has no fitness metric {name!r}; known: {known}")

    @property
    def default_metric(self) -> FitnessMetric:
        return self.fitness_metrics[0]


def reduce_episode(values: np.ndarray, how: Reduce) -> float:
    """Fold one episode's per-step metric values (shape (T,)) into one number."""
    if values.size == 0:
        return 0.0
    if how == "last":
        return float(values[-1])
    fold: dict[str, Callable[[np.ndarray], Any]] = {
        "sum": np.sum,
        "mean": np.mean,
        "max": np.max,
        "min": np.min,
    }
    return float(fold[how](values))
