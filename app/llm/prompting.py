"""Render the prompt of one iteration from the versioned templates in ``prompts/``.

The first iteration is a system message (role and output rules) and a user
message (the env card's abstraction and the task). Later iterations follow
Eureka's reflection: the parent's code as the assistant's earlier answer, then a
user message with its training statistics, its trusted fitness, the other
candidates' errors and the person's feedback.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from envs.card import EnvCard, FitnessMetric
from sandbox.spec import RewardBackend

PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"
PROMPT_VERSION = "v1"
MAX_ERRORS = 6
MAX_ERROR_CHARS = 600

_REDUCE_PHRASES = {
    "sum": "summed over the episode's steps",
    "mean": "averaged over the episode's steps",
    "max": "the best value reached during the episode",
    "min": "the lowest value during the episode",
    "last": "the value at the episode's last step",
}
# Series shown after the components: (label, the checkpoint keys that may hold it).
_GLOBAL_SERIES = (
    ("total_reward", ("reward", "total")),
    ("env_reward", ("env_reward",)),
    ("fitness", ("fitness",)),
    ("episode_length", ("length", "episode_length")),
)


@dataclass(frozen=True)
class TrainingSetup:
    """How every candidate trains: what the model needs to read the statistics."""

    algorithm: str
    timesteps: int  # env steps per candidate at the full budget
    n_envs: int
    checkpoint_every: int  # env steps between two statistics checkpoints
    halving_budgets: tuple[int, ...] = ()  # env steps at the end of each halving rung


@dataclass(frozen=True)
class SearchSoFar:
    """The search beyond the parent: a line per candidate of the last iteration, a line
    per earlier iteration (what the parent's ancestors tried), the parent's components
    that never changed, and how the parent's policy behaved."""

    last_iteration: Sequence[str] = ()
    history: Sequence[str] = ()
    constant_components: Sequence[str] = ()
    parent_behaviour: str | None = None


@dataclass(frozen=True)
class Reflection:
    """What the next prompt learns from the last iteration.

    ``parent_stats`` is the sandbox statistics JSON of the parent (see
    ``sandbox.stats``); missing keys are skipped. ``preferences`` holds pairs
    (preferred, other) of labels that tell the model which rewards they mean,
    for example "candidate 2 (components forward, ctrl_cost; fitness 812)";
    ``ties`` pairs judged equally good and ``both_bad`` pairs judged both bad.
    """

    parent_code: str | None = None
    parent_fitness: float | None = None
    parent_success_rate: float | None = None
    parent_stats: Mapping[str, Any] = field(default_factory=dict)
    errors: Sequence[str] = ()
    feedback: Sequence[str] = ()
    preferences: Sequence[tuple[str, str]] = ()
    ties: Sequence[tuple[str, str]] = ()
    both_bad: Sequence[tuple[str, str]] = ()
    parent_chosen_by_human: bool = False
    parent_reason: str | None = None  # why this parent: a person's pick, preferences, fitness
    setup: TrainingSetup | None = None  # shown when given (prompts since the setup template)
    search: SearchSoFar | None = None


def build_messages(
    *,
    card: EnvCard,
    metric: FitnessMetric,
    task: str,
    reflection: Reflection | None,
    prompt_version: str = PROMPT_VERSION,
    reward_backend: RewardBackend = "numpy",
) -> list[dict[str, str]]:
    """The chat messages asking for reward code for ``task`` on ``card``'s env.

    ``reward_backend`` ``"torch"`` asks for code on torch tensors instead of numpy arrays.
    """
    if not task.strip():
        raise ValueError("the task description is empty: say what the agent should do")
    render = _renderer(prompt_version)
    torch = {"torch": reward_backend == "torch"}
    rules = render("output_rules", torch)
    messages = [
        {"role": "system", "content": _join(render("system", {}), rules)},
        {
            "role": "user",
            "content": _join(
                render("env_context", {**_env_context(card, metric), **torch}),
                render("task", {"task": task.strip()}),
            ),
        },
    ]
    if reflection is None:
        return messages
    has_parent = bool(reflection.parent_code and reflection.parent_code.strip())
    if has_parent:
        code = (reflection.parent_code or "").strip()
        messages.append({"role": "assistant", "content": render("parent", {"parent_code": code})})
    parts = [render("reflection", _reflection_context(reflection, metric, has_parent))]
    if reflection.setup is not None:
        parts.insert(0, render("training_setup", asdict(reflection.setup)))
    if has_parent and reflection.parent_reason:
        parts.insert(0, render("parent_choice", {"reason": reflection.parent_reason}))
    search = reflection.search
    if search and (
        search.last_iteration
        or search.history
        or search.constant_components
        or search.parent_behaviour
    ):
        parts.append(render("search_so_far", {**asdict(search), "metric_name": metric.name}))
    errors = summarize_errors(reflection.errors)
    if errors:
        parts.append(render("code_errors", {"errors": errors, "has_parent": has_parent}))
    if (
        reflection.feedback
        or reflection.preferences
        or reflection.ties
        or reflection.both_bad
        or reflection.parent_chosen_by_human
    ):
        parts.append(render("human_feedback", _feedback_context(reflection, has_parent)))
    parts.append(rules)
    messages.append({"role": "user", "content": _join(*parts)})
    return messages


def format_stat_line(name: str, values: Sequence[float]) -> str:
    """One series the way Eureka shows it to the model.

    ``forward: ['1.23', '2.45'], Max: 2.45, Mean: 1.84, Min: 1.23``
    """
    shown = ", ".join(f"'{_number(v)}'" for v in values)
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return f"{name}: [{shown}]"
    mean = sum(finite) / len(finite)
    summary = f"Max: {_number(max(finite))}, Mean: {_number(mean)}, Min: {_number(min(finite))}"
    return f"{name}: [{shown}], {summary}"


def stat_lines(stats: Mapping[str, Any]) -> list[str]:
    """Eureka-style lines for every reward component and global series in ``stats``."""
    checkpoints = [c for c in stats.get("checkpoints") or [] if isinstance(c, Mapping)]
    names: list[str] = []
    for checkpoint in checkpoints:
        for name in _components(checkpoint):
            if name not in names:
                names.append(name)
    lines = []
    for name in names:
        values = [_mean_of(_components(c).get(name)) for c in checkpoints]
        lines.append(_series_line(name, values))
    for label, keys in _GLOBAL_SERIES:
        values = [_mean_of(next((c[k] for k in keys if k in c), None)) for c in checkpoints]
        lines.append(_series_line(label, values))
    return [line for line in lines if line]


def summarize_errors(
    errors: Sequence[str], limit: int = MAX_ERRORS, max_chars: int = MAX_ERROR_CHARS
) -> list[str]:
    """The distinct errors, in order, each cut to ``max_chars`` keeping its end
    (where a traceback names the exception)."""
    distinct = list(dict.fromkeys(e.strip() for e in errors if e and e.strip()))
    shortened = []
    for error in distinct[:limit]:
        if len(error) > max_chars:
            head = max_chars // 4
            error = f"{error[:head]}\n...\n{error[-(max_chars - head) :]}"
        shortened.append(error)
    return shortened


def _reported(checkpoint: Any) -> bool:
    """True when a checkpoint saw finished episodes (it holds at least one mean)."""
    if not isinstance(checkpoint, Mapping):
        return False
    series = [*_components(checkpoint).values()]
    series += [checkpoint.get(key) for _, keys in _GLOBAL_SERIES for key in keys]
    return any(_mean_of(entry) is not None for entry in series)


def _components(checkpoint: Mapping[str, Any]) -> Mapping[str, Any]:
    components = checkpoint.get("components")
    return components if isinstance(components, Mapping) else {}


def _series_line(name: str, values: list[float | None]) -> str:
    present = [v for v in values if v is not None]
    return format_stat_line(name, present) if present else ""


def _mean_of(entry: Any) -> float | None:
    """The checkpoint's mean of one series; None where it is missing."""
    value = entry.get("mean") if isinstance(entry, Mapping) else entry
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _number(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    if value == 0 or 0.01 <= abs(value) < 1e5:
        return f"{value:.2f}"
    return f"{value:.3g}"


def _env_context(card: EnvCard, metric: FitnessMetric) -> dict[str, Any]:
    rows = [
        {
            "name": var.name,
            "shape": _batched_shape(var.shape),
            "unit": _cell(var.unit) or "-",
            "description": _cell(var.description),
        }
        for var in card.state_vars
    ]
    unit = f" {metric.unit}" if metric.unit else ""
    relation = "at least" if metric.higher_is_better else "at most"
    return {
        "env_id": card.env_id,
        "description": card.description.strip(),
        "action_description": card.action_description.strip(),
        "state_rows": rows,
        "metric_name": metric.name,
        "metric_description": metric.description.strip(),
        "reduce_phrase": _REDUCE_PHRASES.get(metric.reduce, metric.reduce),
        "direction": _direction(metric),
        "threshold_phrase": f"{relation} {metric.success_threshold:g}{unit}",
    }


def _reflection_context(
    reflection: Reflection, metric: FitnessMetric, has_parent: bool
) -> dict[str, Any]:
    stats = reflection.parent_stats or {}
    checkpoints = stats.get("checkpoints") or []
    correlation = stats.get("correlation")
    if not isinstance(correlation, int | float) or not math.isfinite(correlation):
        correlation = None
    return {
        "has_parent": has_parent,
        "n_checkpoints": sum(1 for c in checkpoints if _reported(c)),
        "stat_lines": stat_lines(stats),
        "has_env_reward": any(isinstance(c, Mapping) and "env_reward" in c for c in checkpoints),
        "metric_name": metric.name,
        "direction": _direction(metric),
        "fitness": "not measured"
        if reflection.parent_fitness is None
        else _number(reflection.parent_fitness),
        "success_rate": "not measured"
        if reflection.parent_success_rate is None
        else f"{100 * reflection.parent_success_rate:.0f}%",
        "correlation": None if correlation is None else f"{correlation:.2f}",
        "correlation_hint": _correlation_hint(correlation),
    }


def _feedback_context(reflection: Reflection, has_parent: bool) -> dict[str, Any]:
    return {
        "parent_chosen_by_human": reflection.parent_chosen_by_human and has_parent,
        "preferences": [(a, b) for a, b in reflection.preferences],
        "ties": [(a, b) for a, b in reflection.ties],
        "both_bad": [(a, b) for a, b in reflection.both_bad],
        "feedback": [t.strip() for t in reflection.feedback if t and t.strip()],
    }


def _correlation_hint(correlation: float | None) -> str:
    if correlation is None:
        return ""
    if correlation >= 0.7:
        return "the reward tracks the metric well"
    if correlation >= 0.3:
        return "the reward only partly tracks the metric"
    return "the reward does not track the metric"


def _batched_shape(shape: tuple[int, ...]) -> str:
    """The shape with the batch dimension the code sees: (B,) or (B, 9)."""
    return f"(B, {', '.join(map(str, shape))})" if shape else "(B,)"


def _direction(metric: FitnessMetric) -> str:
    return "higher is better" if metric.higher_is_better else "lower is better"


def _cell(text: str) -> str:
    """Text safe inside one markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def _join(*parts: str) -> str:
    return "\n\n".join(p.strip() for p in parts if p.strip())


def _renderer(version: str) -> Callable[[str, Mapping[str, Any]], str]:
    environment = _environment(str(PROMPTS_DIR))

    def render(name: str, context: Mapping[str, Any]) -> str:
        return environment.get_template(f"{name}.{version}.j2").render(**context)

    return render


@lru_cache
def _environment(directory: str) -> Environment:
    return Environment(
        loader=FileSystemLoader(directory),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
