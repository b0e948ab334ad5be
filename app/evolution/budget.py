"""The run's budgets: env steps, LLM cost in USD and wall time.

Checked before each iteration after the first (the first always runs: a run
with no trained reward has nothing to finalise). An iteration that started
finishes; the env-step limit looks ahead, so the next iteration (at its full
budget, before halving) and the trainings after the search must fit under it.
Cost and wall time are not known in advance: the search stops once either is
reached (wall time counts from the first iteration, so a resumed run's pause
counts too). At a limit the search ends and the run finalises what it has.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.db.run_store import RunStore
from app.run_options import RunSpec
from app.run_prepare import final_trainings


def budget_stop(
    store: RunStore, run_id: str, spec: RunSpec, *, index: int
) -> dict[str, Any] | None:
    """Why the search must stop before iteration ``index`` (the reason stored in
    ``run.final["budget"]`` and the ``run.budget`` event), or None to go on."""
    options = spec.options
    if index == 0 or (
        options.max_env_steps is None
        and options.max_cost_usd is None
        and options.max_wall_s is None
    ):
        return None
    steps, cost, began = store.budget_used(run_id)
    wall = (datetime.now(UTC) - _aware(began)).total_seconds() if began else 0.0
    used = {"env_steps": steps, "cost_usd": round(cost, 6), "wall_s": round(wall, 1)}
    assert spec.timesteps is not None
    ahead = (spec.samples + final_trainings(spec)) * spec.timesteps
    if options.max_env_steps is not None and steps + ahead > options.max_env_steps:
        return _reason(
            "max_env_steps",
            options.max_env_steps,
            used,
            index,
            f"another iteration and the final test ({ahead} env steps) would pass the "
            f"limit of {options.max_env_steps} after {steps}",
        )
    if options.max_cost_usd is not None and cost >= options.max_cost_usd:
        return _reason(
            "max_cost_usd",
            options.max_cost_usd,
            used,
            index,
            f"the LLM calls cost ${cost:.4f}, the limit is ${options.max_cost_usd:g}",
        )
    if options.max_wall_s is not None and wall >= options.max_wall_s:
        return _reason(
            "max_wall_s",
            options.max_wall_s,
            used,
            index,
            f"the run has run {wall:.0f} s, the limit is {options.max_wall_s:g} s",
        )
    return None


def _reason(limit: str, value: float, used: dict[str, Any], index: int, why: str) -> dict[str, Any]:
    return {
        "limit": limit,
        "value": value,
        "used": used,
        "iterations_done": index,
        "message": f"stopped searching after {index} iteration(s): {why}",
    }


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
