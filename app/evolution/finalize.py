"""After the search: retrain the best few rewards on fresh seeds and keep the best mean
(a single seed overstates), then retrain that reward, the env's own reward (the human
baseline) and the fitness metric itself (the sparse baseline) with several seeds, and
report the human-normalised score (method - sparse) / |human - sparse| where the env's
reward is a fair baseline for the task; fitness and success against the sparse reward
always."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from app.db.models import Candidate
from app.evolution.selection import ranked

SOURCES = ("candidate", "env", "fitness")
FINAL_SEED_BASE = 1000
# Reselection seeds differ from the final test's: the finalised reward is then scored on
# seeds that did not choose it, so its final mean carries no winner's curse.
RESELECT_SEED_BASE = 2000


def reselect(
    search_best: Sequence[Candidate], retrained: Sequence[Candidate], *, higher_is_better: bool
) -> dict[str, Any]:
    """The top-k search candidates' retrained fitness per seed and mean, the winner by the
    one rule on those means, and whether it differs from the single-seed winner."""
    rows: list[dict[str, Any]] = []
    for candidate in search_best:
        mine = [r for r in retrained if r.parent_id == candidate.id and r.fitness is not None]
        fitness = [float(r.fitness) for r in mine]  # type: ignore[arg-type]
        rows.append(
            {
                "id": candidate.id,
                "iteration": candidate.iteration_index,
                "sample": candidate.sample_index,
                "search_fitness": candidate.fitness,
                "fitness": fitness,
                "mean": statistics.fmean(fitness) if fitness else None,
            }
        )
    best = ranked(
        rows,
        higher_is_better=higher_is_better,
        fitness=lambda row: row["mean"],
        full_budget=lambda row: True,
    )
    search_winner = search_best[0].id if search_best else None
    winner = best[0]["id"] if best else search_winner
    return {
        "top_k": len(search_best),
        "candidates": rows,
        "search_winner_id": search_winner,
        "winner_id": winner,
        "winner_changed": winner != search_winner,
    }


def summarize(
    finals: list[Candidate], *, higher_is_better: bool, env_is_baseline: bool = True
) -> dict[str, Any]:
    """Per source: fitness per seed, mean, success rate; the gain over the sparse reward;
    and the normalised score, only where the env's reward is a fair baseline."""
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
    summary["env_is_baseline"] = env_is_baseline
    summary["gain_over_sparse"] = (
        None
        if method is None or sparse is None
        else (1.0 if higher_is_better else -1.0) * (method - sparse)
    )
    summary["normalized_score"] = (
        normalized_score(method, human, sparse, higher_is_better) if env_is_baseline else None
    )
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
