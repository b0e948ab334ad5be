"""Shaping terms, fitness metrics and state variables that several cards share."""

from __future__ import annotations

from dataclasses import replace

from envs.card import FitnessMetric, ShapingTerm, StateVar

CTRL_COST = ShapingTerm("ctrl_cost", "np.sum(np.square(action), axis=-1)", sign=-1.0)
"""Squared action magnitude, for continuous actions of shape (B, act_dim)."""

ALIVE = ShapingTerm("alive", 'np.ones(state["obs"].shape[0])', sign=1.0)
"""A constant bonus per step survived (it pays only where the env ends early)."""


def in_env_reward(term: ShapingTerm, weight: float) -> ShapingTerm:
    """``term`` as the env's own reward weighs it (see ``ShapingTerm.env_weight``)."""
    return replace(term, env_weight=weight)


def state_term(name: str, var: str, sign: float = 1.0) -> ShapingTerm:
    """A shaping term that is one scalar state variable as it is."""
    return ShapingTerm(name, f'state["{var}"]', sign=sign)


def obs_var(dim: int) -> StateVar:
    """The raw observation, offered beside the named variables."""
    return StateVar("obs", (dim,), "the raw observation vector the policy sees")


def distance_metrics(dt: float, threshold: float) -> tuple[FitnessMetric, FitnessMetric]:
    """``forward_distance`` and ``backward_distance``: metres moved along +x / -x.

    Both sum ``x_velocity * dt`` over the episode, with the env's step duration
    ``dt`` as a constant.
    """
    forward = FitnessMetric(
        name="forward_distance",
        description=f"Metres travelled along +x in the episode (sum of x_velocity * dt, "
        f"dt = {dt} s). Success: {threshold:g} m.",
        step=lambda state, action: state["x_velocity"] * dt,
        reduce="sum",
        success_threshold=threshold,
        expression=f'state["x_velocity"] * {dt!r}',
        unit="m",
    )
    backward = FitnessMetric(
        name="backward_distance",
        description=f"Metres travelled along -x in the episode (moving backwards). "
        f"Success: {threshold:g} m.",
        step=lambda state, action: -state["x_velocity"] * dt,
        reduce="sum",
        success_threshold=threshold,
        expression=f'-state["x_velocity"] * {dt!r}',
        unit="m",
    )
    return forward, backward


def flag_steps_metric(
    name: str, flag: str, meaning: str, threshold: float, episode: int
) -> FitnessMetric:
    """A count of the episode's steps in which the 0/1 variable ``state[flag]`` is 1."""
    return FitnessMetric(
        name=name,
        description=f"Steps in which {meaning}. Success: {threshold:g} of the {episode} steps.",
        step=lambda state, action: state[flag],
        reduce="sum",
        success_threshold=threshold,
        expression=f'state["{flag}"]',
        unit="steps",
    )
