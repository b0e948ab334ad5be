"""The quality bench's table: each task over its search seeds, the suite's aggregates,
the markdown, and the searches an earlier table recorded (bench/quality.py runs them)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from envs import get_card

SOURCES = {"candidate": "evolved", "env": "env reward", "fitness": "sparse"}


def recorded_searches(
    path: Path,
    scale: float,
    proposer: str,
    timesteps: dict[str, int],
    settings: dict[str, dict[str, Any]],
) -> dict[tuple[str, int], dict[str, Any]]:
    """The finished searches an earlier run of the same suite, scale and proposer wrote to
    ``results.json``, by (task, seed): the stored runs are not kept in git, the table is,
    so a clone can finish a table that another machine began. A search whose candidates
    trained on other than ``timesteps[task]`` env steps (the suite changed) or with other
    settings than ``settings[task]`` (the card's changed; a row that does not say is
    not trusted) is not kept."""
    if not path.exists():
        return {}
    report = json.loads(path.read_text())
    if report.get("scale") != scale or report.get("proposer") != proposer:
        return {}
    found = {}
    for task in report.get("tasks", []):
        for position, search in enumerate(task.get("runs", [])):
            seed = search.get("seed", position)  # older tables listed every seed in order
            same_budget = search.get("timesteps") == timesteps.get(task["name"])
            same_settings = search.get("settings") == settings.get(task["name"])
            if search.get("status") == "succeeded" and same_budget and same_settings:
                found[(task["name"], seed)] = {**search, "seed": seed}
    return found


def task_summary(task: dict[str, Any], searches: list[dict[str, Any]]) -> dict[str, Any]:
    """A task over its search seeds: the mean (and spread) of every column."""
    higher = get_card(task["env"]).metric(task["metric"]).higher_is_better
    done = [s for s in searches if s["status"] == "succeeded"]
    summary: dict[str, Any] = {
        "name": task["name"],
        "group": task["group"],
        "env": task["env"],
        "metric": task["metric"],
        "higher_is_better": higher,
        "searches": len(searches),
        "finished": len(done),
        "per_candidate": ", ".join(
            sorted({f"{s['timesteps']:,} {s['tuning']}" for s in done if "timesteps" in s})
        ),
    }
    columns = [f"{s}_{k}" for s in SOURCES for k in ("fitness", "success")]
    columns += ["normalized_score", "env_steps", "screened", "env_steps_saved"]
    columns += ["llm_calls", "tokens", "cost_usd", "wall_s"]
    for column in columns:
        values = [float(s[column]) for s in done if s.get(column) is not None]
        summary[column] = statistics.fmean(values) if values else None
        summary[f"{column}_sd"] = statistics.stdev(values) if len(values) > 1 else None
    if task["group"] != "standard":
        summary["normalized_score"] = summary["normalized_score_sd"] = None
    summary["winner_changed"] = sum(1 for s in done if s.get("winner_changed"))
    summary["beats_sparse"] = _better(
        summary["candidate_fitness"], summary["fitness_fitness"], higher
    )
    summary["at_least_env"] = (
        _better(summary["candidate_fitness"], summary["env_fitness"], higher, or_equal=True)
        if task["group"] == "standard"
        else None
    )
    return summary


def _better(
    a: float | None, b: float | None, higher: bool, *, or_equal: bool = False
) -> bool | None:
    if a is None or b is None:
        return None
    if or_equal and a == b:
        return True
    return a > b if higher else a < b


def aggregates(tasks: list[dict[str, Any]]) -> dict[str, Any]:
    """The suite's headline numbers."""

    def share(values: list[bool | None]) -> float | None:
        known = [v for v in values if v is not None]
        return sum(known) / len(known) if known else None

    def mean(values: list[float | None]) -> float | None:
        known = [v for v in values if v is not None]
        return statistics.fmean(known) if known else None

    standard = [t for t in tasks if t["group"] == "standard"]
    novel = [t for t in tasks if t["group"] == "novel"]
    return {
        "beats_sparse_share": share([t["beats_sparse"] for t in tasks]),
        "at_least_env_share_standard": share([t["at_least_env"] for t in standard]),
        "mean_normalized_score_standard": mean([t["normalized_score"] for t in standard]),
        "mean_success_novel": mean([t["candidate_success"] for t in novel]),
        "novel_tasks_with_success": sum(1 for t in novel if (t["candidate_success"] or 0) > 0),
        "novel_tasks": len(novel),
        "env_steps": sum(t["env_steps"] * t["finished"] for t in tasks if t["env_steps"]),
        "screened": sum(t["screened"] * t["finished"] for t in tasks if t.get("screened")),
        "env_steps_saved": sum(
            t["env_steps_saved"] * t["finished"] for t in tasks if t.get("env_steps_saved")
        ),
        "cost_usd": sum(t["cost_usd"] * t["finished"] for t in tasks if t["cost_usd"]),
    }


def markdown(report: dict[str, Any]) -> str:
    """The table and the aggregates, for bench/results/."""

    def num(value: Any, sd: Any = None, digits: int = 3) -> str:
        if value is None:
            return "—"
        text = f"{value:.{digits}g}"
        return f"{text} ± {sd:.2g}" if sd is not None else text

    def pct(value: Any) -> str:
        return "—" if value is None else f"{100 * value:.0f}%"

    lines = [
        f"# Search quality: {report['suite']}",
        "",
        f"Command: `{report['command']}`",
        "",
        f"Proposer: {report['proposer']}; scale {report['scale']}; "
        f"{report['search_seeds']} search seed(s) per task; means ± sd over search seeds. "
        "Steps per candidate: the env steps each candidate trains on and the card's "
        "settings it trains with (zoo: rl-baselines3-zoo's; short: for small budgets).",
        "",
        "| task | group | metric | steps per candidate | evolved | success | env reward "
        "| success | sparse | success | norm. score | beats sparse | ≥ env | winner changed "
        "| env steps | screened "
        "| LLM calls | tokens | cost $ | wall s |",
        "|" + "---|" * 20,
    ]
    for t in report["tasks"]:
        lines.append(
            "| "
            + " | ".join(
                [
                    t["name"],
                    t["group"],
                    t["metric"] + ("" if t["higher_is_better"] else " (lower)"),
                    t.get("per_candidate") or "—",
                    num(t["candidate_fitness"], t["candidate_fitness_sd"]),
                    pct(t["candidate_success"]),
                    num(t["env_fitness"], t["env_fitness_sd"]),
                    pct(t["env_success"]),
                    num(t["fitness_fitness"], t["fitness_fitness_sd"]),
                    pct(t["fitness_success"]),
                    num(t["normalized_score"], t["normalized_score_sd"]),
                    {True: "yes", False: "no", None: "—"}[t["beats_sparse"]],
                    {True: "yes", False: "no", None: "—"}[t["at_least_env"]],
                    f"{t['winner_changed']}/{t['finished']}",
                    num(t["env_steps"], digits=4),
                    num(t.get("screened")),
                    num(t["llm_calls"]),
                    num(t["tokens"], digits=4),
                    num(t["cost_usd"]),
                    num(t["wall_s"]),
                ]
            )
            + " |"
        )
    a = report["aggregates"]
    lines += [
        "",
        f"- evolved reward beats the metric used as a reward: {pct(a['beats_sparse_share'])} "
        "of tasks",
        f"- evolved reward at least the env's own: {pct(a['at_least_env_share_standard'])} of "
        "standard tasks (Eureka: 83% of 29)",
        "- mean human-normalised score (standard tasks): "
        + num(a["mean_normalized_score_standard"]),
        f"- mean success of the evolved reward on novel tasks: {pct(a['mean_success_novel'])} "
        f"({a['novel_tasks_with_success']} of {a['novel_tasks']} novel tasks above zero)",
        f"- env steps in all: {a['env_steps']:.4g}; LLM cost: ${a['cost_usd']:.4f}",
        f"- candidates screened out before training: {a['screened']}, "
        f"saving {a['env_steps_saved']:.4g} env steps",
        "",
    ]
    return "\n".join(lines)
