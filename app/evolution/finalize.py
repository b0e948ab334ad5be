"""After the search: retrain the best reward, the env's own reward (the human
baseline) and the fitness metric itself (the sparse baseline) with several
seeds, and report the human-normalised score (method - sparse) / |human - sparse|."""

from __future__ import annotations

import statistics
from typing import Any

from app.db.models import Candidate

SOURCES = ("candidate", "env", "fitness")
FINAL_SEED_BASE = 1000


def summarize(finals: list[Candidate], *, higher_is_better: bool) -> dict[str, Any]:
    """Per source: fitness per seed, mean, success rate; plus the normalised score."""
    summary: dict[str, Any] = {}
    for source in SOURCES:
        rows = [c for c in finals if c.reward_source == source and c.fitness is not None]
        fitness = [float(c.fitness) for c in rows]  # type: ignore[arg-type]
        summary[source] = {
            "fitness": fitness,
            "mean": statistics.fmean(fitness) if fitness else None,
            "success_rate": statistics.fmean(c.success_rate or 0.0 for c in rows) if rows else None,
            "failed": sum(1 for c in finals if c.reward_source == source and c.fitness is None),
        }
    method, human, sparse = (summary[s]["mean"] for s in SOURCES)
    summary["normalized_score"] = normalized_score(method, human, sparse, higher_is_better)
    return summary


def normalized_score(
    method: float | None, human: float | None, sparse: float | None, higher_is_better: bool
) -> float | None:
    """Eureka's human-normalised score; None when undefined (human == sparse)."""
    if method is None or human is None or sparse is None:
        return None
    denominator = abs(human - sparse)
    if denominator < 1e-9:
        return None
    sign = 1.0 if higher_is_better else -1.0
    return sign * (method - sparse) / denominator
