"""A user's own env card, written the way envs/README.md shows: CartPole, scored
on balancing while keeping the cart near the centre of the track."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from envs.card import EnvCard, FitnessMetric, ShapingTerm, StateVar, TrainingDefaults
from envs.extract import batch_obs, read_only


def extract(obs: np.ndarray, infos: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """Named, read-only variables from a (B, 4) batch of CartPole observations."""
    o = batch_obs(obs, 4)
    return read_only(
        {
            "cart_position": o[:, 0],
            "pole_angle": o[:, 2],
            "is_centred": (np.abs(o[:, 0]) < 0.5) & (np.abs(o[:, 2]) < 0.2),
            "obs": o,
        }
    )


def make_card(env_id: str = "CartPole-v1") -> EnvCard:
    """The card; rewardforge calls it with no arguments."""
    return EnvCard(
        env_id=env_id,
        description="A pole on a cart on a track; keep it up with the cart near the centre.",
        action_description="Discrete: 0 pushes the cart left, 1 pushes it right.",
        state_vars=(
            StateVar("cart_position", (), "cart position, 0 = centre", "m"),
            StateVar("pole_angle", (), "pole angle from vertical", "rad"),
            StateVar("is_centred", (), "1 while upright with |cart_position| < 0.5", "0/1"),
            StateVar("obs", (4,), "the raw observation"),
        ),
        extract=extract,
        fitness_metrics=(
            FitnessMetric(
                name="centred_steps",
                description="Steps balanced with the cart within 0.5 m of the centre.",
                step=lambda state, action: state["is_centred"],
                reduce="sum",
                success_threshold=400.0,
                expression='state["is_centred"]',
                unit="steps",
            ),
        ),
        shaping_terms=(ShapingTerm("cart_offset", 'np.abs(state["cart_position"])', sign=-1.0),),
        training=TrainingDefaults(algorithm="PPO", timesteps=100_000, n_envs=8),
    )


def make_cards() -> list[EnvCard]:
    """Several cards from one factory (an entry point may return a list)."""
    return [make_card("CartPole-v0"), make_card("CartPole-v1")]
