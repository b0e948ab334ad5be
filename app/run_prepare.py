"""A run spec checked against the env catalog, and what the card decides for it.

:func:`prepare_run` fills in the card's defaults (metric, timesteps, which of its
training settings) and refuses what the catalog or the budgets cannot take;
the other functions derive from a prepared spec what the loop needs.
"""

from __future__ import annotations

from typing import Any

from app.run_options import FINAL_SOURCES, MAX_RUN_ENV_STEPS, RunSpec, TrainingOptions
from envs.card import EnvCard, TrainingDefaults
from envs.zoo import SHORT_BUDGET_MAX_FRACTION
from sandbox.batched import unavailable_reason


class RunOptionError(ValueError):
    """A run spec the catalog or the budgets refuse; ``loc`` names the field."""

    def __init__(self, loc: tuple[str, ...], message: str, value: Any = None) -> None:
        super().__init__(message)
        self.loc, self.message, self.value = loc, message, value


def prepare_run(spec: RunSpec) -> RunSpec:
    """The spec with the card's defaults filled in, checked against the catalog.

    Raises :class:`RunOptionError` for an unknown env or metric, a simulator
    that cannot train the env here, or a budget over the per-run cap.
    """
    from envs import get_card, list_cards

    try:
        card = get_card(spec.env_id, spec.card_spec)
    except KeyError:
        known = ", ".join(sorted(c.env_id for c in list_cards()))
        raise RunOptionError(
            ("env_id",), f"unknown env {spec.env_id!r}; known envs: {known}", spec.env_id
        ) from None
    reason = unavailable_reason(card.env_id, spec.options.simulator)
    if reason is not None:
        raise RunOptionError(("options", "simulator"), reason, spec.options.simulator)
    metrics = [m.name for m in card.fitness_metrics]
    metric = spec.fitness_metric or card.default_metric.name
    if metric not in metrics:
        raise RunOptionError(
            ("fitness",),
            f"{card.env_id} has no fitness metric {metric!r}; known: {', '.join(metrics)}",
            metric,
        )
    timesteps = spec.timesteps or card.training.timesteps
    trainings = spec.iterations * spec.samples + final_trainings(spec)
    if trainings * timesteps > MAX_RUN_ENV_STEPS:
        raise RunOptionError(
            (),
            f"the run would train {trainings} policies x {timesteps} timesteps = "
            f"{trainings * timesteps} env steps, over the per-run limit of {MAX_RUN_ENV_STEPS}; "
            "lower iterations, samples, final_seeds or timesteps",
        )
    limit = spec.options.max_env_steps
    least = (spec.samples + final_trainings(spec)) * timesteps
    if limit is not None and limit < least:
        raise RunOptionError(
            ("options", "max_env_steps"),
            f"max_env_steps {limit} does not fit one iteration and the final test "
            f"({spec.samples} + {final_trainings(spec)} trainings x {timesteps} timesteps = "
            f"{least}); raise it or lower samples, final_seeds, final_top_k or timesteps",
            limit,
        )
    tuning = resolve_tuning(spec.options.tuning, card, timesteps)
    return spec.model_copy(
        update={
            "env_id": card.env_id,
            "fitness_metric": metric,
            "timesteps": timesteps,
            "options": spec.options.model_copy(update={"tuning": tuning}),
        }
    )


def resolve_tuning(asked: str, card: EnvCard, timesteps: int) -> str:
    """``auto`` resolved for the run's budget; ``short`` refused where the card has none."""
    if asked == "short" and card.short_training is None:
        raise RunOptionError(
            ("options", "tuning"),
            f"{card.env_id} has no short-budget settings; use tuning zoo or auto",
            asked,
        )
    if asked != "auto":
        return asked
    short = timesteps <= SHORT_BUDGET_MAX_FRACTION * card.training.timesteps
    return "short" if short and card.short_training is not None else "zoo"


def training_defaults(card: EnvCard, options: TrainingOptions) -> TrainingDefaults:
    """The card's settings a run's candidates train with. ``auto`` here is a run stored
    before the choice was recorded: those trained with the zoo's."""
    if options.tuning == "short" and card.short_training is not None:
        return card.short_training
    return card.training


def final_trainings(spec: RunSpec) -> int:
    """Trainings after the search: the top-k reselection (when k > 1) and the final test."""
    reselect = spec.options.final_top_k if spec.options.final_top_k > 1 else 0
    return (reselect + FINAL_SOURCES) * spec.final_seeds


def env_reward_is_baseline(spec: RunSpec, default_metric: str) -> bool:
    """Whether the env's own reward is a fair human baseline for the run's task: as the
    user said, else only when the run's metric is the card's default (what the env's
    reward was written for)."""
    given = spec.options.env_reward_is_baseline
    return spec.metric_name == default_metric if given is None else given
