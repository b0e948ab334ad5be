"""Helpers that turn a batch of raw observations and step infos into a card's state.

Every extractor follows the same three moves: check the observation batch, read
named columns (and info fields) out of it, and hand back read-only float64
copies, so reward code can never write into the simulator's buffers or into a
neighbouring variable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from envs.card import State

Infos = Sequence[Mapping[str, Any]]
"""The B info dicts that ``env.step`` returned, one per env of the batch."""


def batch_obs(obs: Any, obs_dim: int) -> np.ndarray:
    """The observation batch as a float64 array of shape (B, obs_dim).

    Raises ValueError with the shape it got when ``obs`` is not such a batch.
    """
    arr = np.asarray(obs, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != obs_dim:
        raise ValueError(
            f"expected observations of shape (B, {obs_dim}) (one row per env), got {arr.shape}"
        )
    return arr


class BatchInfos(list):  # type: ignore[type-arg]
    """The B info dicts of a batched simulator's step, with every info field also held
    as one column of shape (B, ...): :func:`info_array` reads the column instead of
    looping over envs. The dicts themselves carry only what SB3 adds (the terminal
    observation and the time-limit flag)."""

    columns: dict[str, np.ndarray]

    @classmethod
    def of(cls, batch: int, columns: Mapping[str, np.ndarray]) -> BatchInfos:
        infos = cls({} for _ in range(batch))
        infos.columns = dict(columns)
        return infos


def info_array(infos: Infos, key: str, batch: int) -> np.ndarray:
    """Stack ``infos[i][key]`` over the batch into a float64 array of shape (B, *shape).

    ``infos`` must be the B info dicts returned by ``env.step`` (reset infos lack
    the velocity and reward fields); a missing key raises ValueError naming it.
    """
    if len(infos) != batch:
        raise ValueError(f"expected {batch} info dicts (one per env), got {len(infos)}")
    if isinstance(infos, BatchInfos):
        if key not in infos.columns:
            have = ", ".join(sorted(infos.columns)) or "nothing"
            raise ValueError(f"step infos have no {key!r} (have: {have})")
        return np.asarray(infos.columns[key], dtype=np.float64)
    values = []
    for i, info in enumerate(infos):
        if key not in info:
            have = ", ".join(sorted(info)) or "nothing"
            raise ValueError(
                f"step info of env {i} has no {key!r} (has: {have}); "
                "pass the info dicts returned by env.step"
            )
        values.append(np.asarray(info[key], dtype=np.float64))
    return np.stack(values)


def angle_of(sin: np.ndarray, cos: np.ndarray) -> np.ndarray:
    """The angle in [-pi, pi] whose sine and cosine are given (radians)."""
    return np.arctan2(sin, cos)


def read_only(state: Mapping[str, Any]) -> State:
    """Each value as its own contiguous float64 copy with writing switched off."""
    frozen: State = {}
    for name, value in state.items():
        arr = np.array(value, dtype=np.float64, order="C", copy=True)
        arr.flags.writeable = False
        frozen[name] = arr
    return frozen
