"""PPO's rollout and minibatch sizes for thousands of envs.

The cards' PPO settings come from rl-baselines3-zoo, tuned for 1 to 16 CPU envs:
``n_steps`` per env and a ``batch_size``. Kept as they are for 4096 envs, one
rollout would be ``n_steps * 4096`` env steps (2 million for HalfCheetah) cut into
tens of thousands of minibatches. For a batched simulator each rollout instead
keeps the zoo's size or more (``n_steps`` per env shrinks, to at least
``MIN_N_STEPS`` so returns still see some future), and each epoch keeps the zoo's
number of minibatches (``batch_size`` grows): the layout of massively parallel
PPO (Rudin et al., 2022: 24 steps per env, 4 minibatches). SAC's settings are
left alone: each vectorised step still stores every env's transition.
"""

from __future__ import annotations

import math
from typing import Any

MIN_N_STEPS = 16
SB3_PPO_N_STEPS, SB3_PPO_BATCH = 2048, 64  # SB3's own defaults, for cards that set none


def scaled_hyperparams(
    algorithm: str, hyperparams: dict[str, Any], card_n_envs: int, n_envs: int
) -> tuple[dict[str, Any], str | None]:
    """The hyperparameters for ``n_envs`` batched envs, and a note of what changed."""
    if algorithm != "PPO" or n_envs <= card_n_envs:
        return dict(hyperparams), None
    n_steps = int(hyperparams.get("n_steps", SB3_PPO_N_STEPS))
    batch = int(hyperparams.get("batch_size", SB3_PPO_BATCH))
    rollout = n_steps * card_n_envs
    minibatches = max(1, rollout // batch)
    new_n_steps = max(MIN_N_STEPS, math.ceil(rollout / n_envs))
    new_batch = max(batch, (new_n_steps * n_envs) // minibatches)
    scaled = {**hyperparams, "n_steps": new_n_steps, "batch_size": new_batch}
    note = (
        f"PPO for {n_envs} batched envs: n_steps {n_steps} -> {new_n_steps} per env, "
        f"batch_size {batch} -> {new_batch} ({minibatches} minibatches per epoch, as tuned "
        f"for {card_n_envs} env(s))"
    )
    return scaled, note
