"""Candidates' training statistics as downloads: a CSV table, one row per
checkpoint, and a JSON document with the statistics as the sandbox reported them.

The rows carry who the candidate is (iteration, sample, kind, seed), so the
CSV of a whole run loads into one data frame. Component names were chosen by
LLM-written code: a name a spreadsheet would run as a formula is quoted.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from app.db.models import Candidate

IDENTITY = ("candidate_id", "iteration", "sample", "kind", "reward_source", "seed", "status")
SERIES = ("reward", "env_reward", "fitness", "length")
SUMMARY = ("mean", "min", "max")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def stats_csv(candidates: Sequence[Candidate]) -> str:
    """Every checkpoint of every candidate: identity, steps, episodes, then the
    mean/min/max of each series and of each reward component."""
    components = _component_names(candidates)
    header = [*IDENTITY, "steps", "episodes"]
    header += [f"{series}_{stat}" for series in SERIES for stat in SUMMARY]
    header += [_cell(f"component_{name}_{stat}") for name in components for stat in SUMMARY]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for candidate in candidates:
        identity = [
            candidate.id,
            candidate.iteration_index,
            candidate.sample_index,
            candidate.kind,
            candidate.reward_source,
            candidate.seed,
            candidate.status,
        ]
        for point in _checkpoints(candidate):
            row: list[Any] = [*identity, point.get("steps"), point.get("episodes")]
            row += [_stat(point.get(series), stat) for series in SERIES for stat in SUMMARY]
            parts = point.get("components") or {}
            row += [_stat(parts.get(name), stat) for name in components for stat in SUMMARY]
            writer.writerow(row)
    return out.getvalue()


def stats_document(candidate: Candidate) -> dict[str, Any]:
    """The candidate's identity, its training statistics and its evaluation."""
    return {
        "candidate": {
            "id": candidate.id,
            "run_id": candidate.run_id,
            "iteration": candidate.iteration_index,
            "sample": candidate.sample_index,
            "kind": candidate.kind,
            "reward_source": candidate.reward_source,
            "seed": candidate.seed,
            "status": candidate.status,
            "fitness": candidate.fitness,
            "success_rate": candidate.success_rate,
            "env_steps": candidate.env_steps,
            "train_seconds": candidate.train_seconds,
        },
        "stats": candidate.stats or {},
        "evaluation": candidate.evaluation or {},
    }


def _checkpoints(candidate: Candidate) -> list[dict[str, Any]]:
    points = (candidate.stats or {}).get("checkpoints") or []
    return [p for p in points if isinstance(p, dict)]


def _component_names(candidates: Sequence[Candidate]) -> list[str]:
    names: dict[str, None] = {}  # in order of first appearance
    for candidate in candidates:
        for name in (candidate.stats or {}).get("component_names") or []:
            names.setdefault(str(name))
        for point in _checkpoints(candidate):
            for name in point.get("components") or {}:
                names.setdefault(str(name))
    return list(names)


def _stat(summary: Any, stat: str) -> Any:
    return summary.get(stat) if isinstance(summary, dict) else None


def _cell(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_START) else text
