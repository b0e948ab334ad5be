"""Turn a POST /runs body into the fields of a stored run, checked against the catalog."""

from __future__ import annotations

from typing import Any

from app.api.errors import invalid_field
from app.api.schemas.runs import FINAL_SOURCES, MAX_RUN_ENV_STEPS, RunCreate
from app.config import Settings
from app.evolution.halving import parse_halving
from app.llm.endpoints import ALLOWED_SETTING, endpoint_allowed
from envs import get_card, list_cards
from envs.card import EnvCard


def _card(env_id: str) -> EnvCard:
    try:
        return get_card(env_id)
    except KeyError:
        known = ", ".join(sorted(card.env_id for card in list_cards()))
        raise invalid_field(
            ("body", "env_id"), f"unknown env {env_id!r}; known envs: {known}", env_id
        ) from None


def _metric_name(card: EnvCard, fitness: str | None) -> str:
    if fitness is None:
        return card.default_metric.name
    known = [metric.name for metric in card.fitness_metrics]
    if fitness not in known:
        raise invalid_field(
            ("body", "fitness"),
            f"{card.env_id} has no fitness metric {fitness!r}; known: {', '.join(known)}",
            fitness,
        )
    return fitness


def _check_budget(body: RunCreate, timesteps: int) -> None:
    trainings = body.iterations * body.samples + FINAL_SOURCES * body.final_seeds
    steps = trainings * timesteps
    if steps > MAX_RUN_ENV_STEPS:
        raise invalid_field(
            ("body",),
            f"the run would train {trainings} policies x {timesteps} timesteps = {steps} env "
            f"steps, over the per-run limit of {MAX_RUN_ENV_STEPS}; lower iterations, samples, "
            "final_seeds or timesteps",
        )


def _check_llm(body: RunCreate, settings: Settings) -> None:
    base_url = body.llm.base_url
    if base_url is None or body.llm.offline:
        return
    # The worker makes the server POST to the run's endpoint (with the server's
    # key when it is the server's own endpoint): only endpoints the operator chose.
    if not endpoint_allowed(base_url, settings):
        raise invalid_field(
            ("body", "llm", "base_url"),
            f"the server does not send LLM requests to {base_url!r}; a run may use the "
            "server's REWARDFORGE_LLM_BASE_URL "
            f"({settings.llm_base_url or 'the provider default'}) or an endpoint listed in "
            f"{ALLOWED_SETTING} (set on the server)",
            base_url,
        )


def new_run_fields(body: RunCreate, *, settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``create_run``, with the card's defaults filled in.

    Raises a 422 ``RequestValidationError`` naming the field for an unknown
    env or fitness metric, a budget over the per-run cap, a module path for a
    card (code the server would import), or an LLM endpoint that would
    receive the server's key.
    """
    if body.card_spec is not None:
        raise invalid_field(
            ("body", "card_spec"),
            "card modules are not loaded from API requests (the server would import and run "
            "them); install the card as a 'rewardforge.envs' entry point and use its env_id",
            body.card_spec,
        )
    card = _card(body.env_id)
    metric = _metric_name(card, body.fitness)
    timesteps = body.timesteps or card.training.timesteps
    _check_budget(body, timesteps)
    _check_llm(body, settings)
    llm = body.llm.model_dump(exclude_none=True)
    options = body.options.model_dump(exclude_none=True)
    try:
        parse_halving(options, samples=body.samples, timesteps=timesteps)
    except ValueError as exc:
        raise invalid_field(("body", "options"), str(exc), options) from None
    return {
        "env_id": card.env_id,
        "task": body.task,
        "fitness_metric": metric,
        "iterations": body.iterations,
        "samples": body.samples,
        "timesteps": timesteps,
        "final_seeds": body.final_seeds,
        "seed": body.seed,
        "llm": llm,
        "options": options,
        "feedback_mode": body.feedback,
        "feedback_timeout_s": body.feedback_timeout_s,
    }
