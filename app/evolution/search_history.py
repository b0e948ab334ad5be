"""What the next prompt is told about the search beyond its parent: how candidates
train, a line per candidate of the last iteration, what earlier iterations tried on
the way to the parent and how it did, which components never changed, and how the
parent's policy behaved in the trusted evaluation.

Plain text lines built from stored rows; prompts/search_so_far.v1.j2 and
prompts/training_setup.v1.j2 lay them out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from app.db.models import Candidate
from app.evolution.halving import parse_halving
from app.llm.prompting import SearchSoFar, TrainingSetup
from app.run_options import RunSpec
from app.run_prepare import training_defaults
from envs.card import EnvCard
from sandbox.spec import TrainSpec

MAX_HISTORY = 8  # earlier iterations shown, newest first
CONSTANT_SPREAD = 1e-6  # relative: a component whose checkpoint means move less is constant


def training_setup(spec: RunSpec, card: EnvCard) -> TrainingSetup:
    """The algorithm, env-step budget, n_envs and checkpoint spacing candidates train with."""
    assert spec.timesteps is not None
    checkpoints = int(TrainSpec.__dataclass_fields__["checkpoints"].default)  # type: ignore[arg-type]
    plan = parse_halving(spec.options, samples=spec.samples, timesteps=spec.timesteps)
    defaults = training_defaults(card, spec.options)
    return TrainingSetup(
        algorithm=spec.options.algorithm or defaults.algorithm,
        timesteps=spec.timesteps,
        n_envs=spec.options.n_envs or defaults.n_envs,
        checkpoint_every=max(1, spec.timesteps // checkpoints),
        halving_budgets=tuple(plan.budgets) if plan is not None else (),
    )


def search_so_far(
    candidates: Sequence[Candidate], *, index: int, parent: Candidate | None
) -> SearchSoFar:
    """The last iteration (``index - 1``) candidate by candidate, and the parent's lineage."""
    last = [c for c in candidates if c.iteration_index == index - 1]
    return SearchSoFar(
        last_iteration=[candidate_line(c) for c in last],
        history=_history(candidates, index=index, parent=parent),
        constant_components=constant_components(parent.stats) if parent else [],
        parent_behaviour=behaviour_text(parent.evaluation) if parent else None,
    )


def behaviour_text(evaluation: Mapping[str, Any] | None) -> str | None:
    """``3 of 5 episodes ended early (the env ended them, e.g. a fall), mean length 212;
    per-step means: torso_height 1.21, x_velocity 0.8``, from the trusted evaluation."""
    evaluation = evaluation or {}
    behaviour = evaluation.get("behaviour")
    episodes, lengths = evaluation.get("episodes"), evaluation.get("episode_length") or []
    if not isinstance(behaviour, Mapping) or not isinstance(episodes, int) or not episodes:
        return None
    early = behaviour.get("ended_early") or 0
    text = f"{early} of {episodes} episodes ended early (the env ended them, e.g. a fall)"
    if lengths:
        text += f", mean length {sum(lengths) / len(lengths):.0f} steps"
    means = [
        f"{name} {_number(value)}"
        for name, value in (behaviour.get("state_means") or {}).items()
        if isinstance(value, int | float) and math.isfinite(value)
    ]
    if means:
        text += "; mean over every step: " + ", ".join(means)
    return text


def candidate_line(c: Candidate) -> str:
    """``candidate 2: fitness 0.41, success 20%, done (full budget); components: forward
    12.3, ctrl_cost -0.5 (never changes); reward/fitness correlation 0.85``."""
    head = f"candidate {c.sample_index}"
    screen = screen_text(c.stats)
    if c.status == "screened":
        return f"{head}: screened out, not trained; {screen or 'no screen recorded'}"
    if c.status in ("invalid", "failed"):
        return f"{head}: {c.status} ({c.error_kind or 'error'}), not trained"
    if c.fitness is None:
        return f"{head}: {c.status}, no fitness"
    success = "" if c.success_rate is None else f", success {100 * c.success_rate:.0f}%"
    parts = [f"{head}: fitness {_number(c.fitness)}{success}, {_status(c)}"]
    stats = c.stats or {}
    constant = set(constant_components(stats))
    finals = [
        f"{name} {_number(value)}" + (" (never changes)" if name in constant else "")
        for name, value in final_components(stats).items()
    ]
    if finals:
        parts.append("final components: " + ", ".join(finals))
    correlation = stats.get("correlation")
    if isinstance(correlation, int | float) and math.isfinite(correlation):
        parts.append(f"reward/fitness correlation {correlation:.2f}")
    if screen:
        parts.append(f"before training, {screen}")
    evaluation = c.evaluation or {}
    early = (evaluation.get("behaviour") or {}).get("ended_early")
    if isinstance(early, int) and early:
        parts.append(f"{early} of {evaluation.get('episodes')} evaluation episodes ended early")
    if c.duplicate_of:
        parts.append("same code as an earlier candidate")
    return "; ".join(parts)


def screen_text(stats: Mapping[str, Any] | None) -> str | None:
    """``its returns on 8 archived episodes rank them with correlation 0.12 against the
    fitness; it ranks the episode with fitness 188.00 below one with fitness 3.10``."""
    screen = (stats or {}).get("screen")
    if not isinstance(screen, Mapping) or not screen.get("episodes"):
        return None
    rho = screen.get("rank_correlation")
    ranked = (
        f"with correlation {rho:.2f} against the fitness"
        if isinstance(rho, int | float) and math.isfinite(rho)
        else "with no measurable correlation to the fitness"
    )
    text = f"its returns on {screen['episodes']} archived episodes rank them {ranked}"
    pair = screen.get("misranked")
    if isinstance(pair, Mapping) and pair.get("better_fitness") is not None:
        text += (
            f"; it ranks the episode with fitness {_number(pair.get('better_fitness'))} "
            f"(return {_number(pair.get('better_return'))}) below one with fitness "
            f"{_number(pair.get('worse_fitness'))} (return {_number(pair.get('worse_return'))})"
        )
    return text


def final_components(stats: Mapping[str, Any]) -> dict[str, float]:
    """Each component's mean episode sum at the last checkpoint that reported it."""
    values: dict[str, float] = {}
    for checkpoint in _checkpoints(stats):
        for name, entry in (checkpoint.get("components") or {}).items():
            mean = _mean(entry)
            if mean is not None:
                values[name] = mean
    return values


def constant_components(stats: Mapping[str, Any]) -> list[str]:
    """Components whose checkpoint means never moved (seen at two checkpoints or more)."""
    series: dict[str, list[float]] = {}
    for checkpoint in _checkpoints(stats):
        for name, entry in (checkpoint.get("components") or {}).items():
            mean = _mean(entry)
            if mean is not None:
                series.setdefault(name, []).append(mean)
    return [
        name
        for name, values in series.items()
        if len(values) >= 2
        and max(values) - min(values) <= CONSTANT_SPREAD * max(1.0, *map(abs, values))
    ]


def _history(candidates: Sequence[Candidate], *, index: int, parent: Candidate | None) -> list[str]:
    """Per iteration before the last: its fitness range, and the ancestor of the parent
    trained in it (or its best) with the components it tried."""
    by_id = {c.id: c for c in candidates}
    lineage: dict[int, Candidate] = {}
    step = parent
    while step is not None and step.iteration_index not in lineage:
        lineage[step.iteration_index] = step
        step = by_id.get(step.parent_id or "")
    lines = []
    for earlier in range(index - 2, max(-1, index - 2 - MAX_HISTORY), -1):
        rows = [c for c in candidates if c.iteration_index == earlier]
        scored = [c.fitness for c in rows if c.fitness is not None]
        if not rows:
            continue
        spread = (
            f"fitness {_number(min(scored))} to {_number(max(scored))}" if scored else "no fitness"
        )
        line = f"iteration {earlier}: {len(rows)} candidates, {spread}"
        ancestor = lineage.get(earlier)
        if ancestor is not None:
            names = ", ".join(final_components(ancestor.stats or {})) or "no components recorded"
            line += (
                f"; the parent's ancestor, candidate {ancestor.sample_index} "
                f"(fitness {_number(ancestor.fitness)}), used: {names}"
            )
        lines.append(line)
    return lines


def _status(c: Candidate) -> str:
    halving = (c.evaluation or {}).get("halving")
    if c.status == "stopped" and isinstance(halving, Mapping):
        rung = int(halving.get("rung", 0)) + 1
        rungs, budget = halving.get("rungs"), halving.get("budget")
        return f"stopped by halving after rung {rung}/{rungs} ({budget} env steps)"
    if isinstance(halving, Mapping):
        return f"done (full budget, rung {halving.get('rungs')}/{halving.get('rungs')})"
    return "done (full budget)" if c.status == "done" else c.status


def _checkpoints(stats: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [c for c in stats.get("checkpoints") or [] if isinstance(c, Mapping)]


def _mean(entry: Any) -> float | None:
    value = entry.get("mean") if isinstance(entry, Mapping) else entry
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _number(value: float | None) -> str:
    if value is None:
        return "none"
    return f"{value:.2f}" if value == 0 or 0.01 <= abs(value) < 1e5 else f"{value:.3g}"
