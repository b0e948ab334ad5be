"""Screening a candidate reward on archived episodes before it trains.

The trusted evaluator recorded earlier candidates' episodes with their fitness
(:mod:`sandbox.episodes`). A reward that will teach the task should give the
episodes the metric rates higher the higher returns. :func:`screen` computes
the candidate's return on every archived episode and the Spearman rank
correlation of those returns with the fitness (+1: the reward orders the
episodes exactly as the metric does, whichever way the metric points).
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np

from sandbox.episodes import EpisodeFileError, RecordedEpisode, read_episodes
from sandbox.reward_code import RewardContractError, RewardFn, check_reward

MIN_EPISODES = 3  # fewer than this: no correlation


def screen(
    reward_fn: RewardFn,
    archive_path: str | Path,
    higher_is_better: bool,
    state_vars: Collection[str] | None = None,
) -> dict[str, Any]:
    """The screen.json document of ``reward_fn`` on the episodes of ``archive_path``.

    ``{"episodes": n, "rank_correlation": rho or None, "returns": [...],
    "fitness": [...], "misranked": {"better_fitness", "better_return",
    "worse_fitness", "worse_return"} or None}``. Reading the archive raises
    OSError or :class:`~sandbox.episodes.EpisodeFileError`; the reward breaking
    its contract (a non-finite return included) raises RewardContractError.
    With ``state_vars`` (the card's), an archive whose episodes hold other state
    variables is an EpisodeFileError, not the reward's fault.
    """
    episodes = read_episodes(archive_path)
    if episodes and state_vars is not None and set(episodes[0].states) != set(state_vars):
        raise EpisodeFileError(
            f"the archive's state variables {sorted(episodes[0].states)} are not the card's "
            f"{sorted(state_vars)}"
        )
    returns = np.array([episode_return(reward_fn, e, i) for i, e in enumerate(episodes)])
    fitness = np.array([e.fitness for e in episodes], dtype=np.float64)
    sign = 1.0 if higher_is_better else -1.0
    return {
        "episodes": len(episodes),
        "rank_correlation": rank_correlation(returns, sign * fitness),
        "returns": returns.tolist(),
        "fitness": fitness.tolist(),
        "misranked": worst_misranked(returns, fitness, sign),
    }


def episode_return(reward_fn: RewardFn, episode: RecordedEpisode, index: int) -> float:
    """The reward summed over the episode: stride x the sum over its stored steps,
    from one call of the reward on all stored steps at once."""
    state = {name: _as_computed(value) for name, value in episode.states.items()}
    try:
        total, _ = check_reward(reward_fn, state, episode.action)
    except RewardContractError as exc:
        raise RewardContractError(f"on archived episode {index}: {exc}", exc.env_index) from None
    value = episode.stride * float(np.sum(total, dtype=np.float64))
    if not np.isfinite(value):
        raise RewardContractError(
            f"the return on archived episode {index} is {value}; rewards must stay finite "
            "when summed over an episode"
        )
    return value


def rank_correlation(x: np.ndarray, y: np.ndarray) -> float | None:
    """Spearman's rho of ``x`` and ``y`` (ties get their average rank); None for
    fewer than MIN_EPISODES values or when either side is constant."""
    if len(x) < MIN_EPISODES:
        return None
    rx, ry = _ranks(x), _ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    norm = float(np.sqrt(np.sum(rx * rx) * np.sum(ry * ry)))
    if norm == 0.0:
        return None
    return float(np.clip(np.sum(rx * ry) / norm, -1.0, 1.0))


def worst_misranked(
    returns: np.ndarray, fitness: np.ndarray, sign: float
) -> dict[str, float] | None:
    """Of the pairs whose better episode (by the metric) gets the lower return, the one
    with the largest fitness gap; None when the reward misorders no pair."""
    score = sign * fitness
    better = score[:, None] > score[None, :]  # [i, j]: the metric prefers i to j
    wrong = better & (returns[:, None] < returns[None, :])
    if not wrong.any():
        return None
    gap = np.where(wrong, np.abs(fitness[:, None] - fitness[None, :]), -np.inf)
    i, j = np.unravel_index(int(np.argmax(gap)), gap.shape)
    return {
        "better_fitness": float(fitness[i]),
        "better_return": float(returns[i]),
        "worse_fitness": float(fitness[j]),
        "worse_return": float(returns[j]),
    }


def _ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, tied values sharing the mean of their ranks."""
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], len(values)]
    mean_rank = (starts + ends + 1) / 2.0  # ranks starts+1 .. ends, averaged
    ranks = np.empty(len(values))
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


def _as_computed(value: np.ndarray) -> np.ndarray:
    """A stored state variable as the extractor gave it: floats back to float64."""
    return value.astype(np.float64) if value.dtype.kind == "f" else value
