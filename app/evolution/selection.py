"""Which candidate is best, and which one the next iteration improves on.

One rule ranks candidates everywhere (selection, reflection, halving cuts, the
final evaluation, export): a candidate trained on the full budget ranks above
one stopped early by successive halving, then the trusted fitness decides, in
the metric's direction. Nothing without a fitness ranks.

The parent of the next iteration is, in this order: the person's explicit pick
(the latest not yet used); else, among the last iteration's candidates a person
compared, the one with the best Bradley-Terry score over every comparison in
the run (a preference a win, a tie half a win each, both bad a loss for
both); else the best by the rule above.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar


class Ranked(Protocol):
    id: str
    status: str
    fitness: float | None


class Comparison(Protocol):
    kind: str
    candidate_id: str | None
    other_candidate_id: str | None


class Pick(Protocol):
    id: int
    kind: str
    candidate_id: str | None


T = TypeVar("T")
RANKED_STATUSES = ("done", "stopped")
RULE_HUMAN, RULE_PREFERENCES, RULE_FITNESS = "human pick", "preferences", "fitness"


def ranked(
    items: Iterable[T],
    *,
    higher_is_better: bool,
    fitness: Callable[[T], float | None] = lambda c: c.fitness,  # type: ignore[attr-defined]
    full_budget: Callable[[T], bool] = lambda c: c.status == "done",  # type: ignore[attr-defined]
) -> list[T]:
    """``items`` with a fitness, best first, by the one rule."""
    sign = 1.0 if higher_is_better else -1.0
    scored = [item for item in items if fitness(item) is not None]
    return sorted(scored, key=lambda i: (not full_budget(i), -sign * float(fitness(i))))  # type: ignore[arg-type]


def best_of(candidates: Iterable[Ranked], *, higher_is_better: bool) -> Ranked | None:
    """The best trained candidate (done or stopped), or None."""
    eligible = [c for c in candidates if c.status in RANKED_STATUSES]
    best = ranked(eligible, higher_is_better=higher_is_better)
    return best[0] if best else None


# What each side of a comparison wins: a preference is a win for its first
# candidate, a tie half a win each, "both bad" a game that neither wins.
GAME_SCORES = {"preference": (1.0, 0.0), "tie": (0.5, 0.5), "both_bad": (0.0, 0.0)}


def games_of(comparisons: Iterable[Comparison]) -> list[tuple[str, str, float, float]]:
    """The person's comparisons as Bradley-Terry games (a, b, a's win, b's win)."""
    return [
        (c.candidate_id, c.other_candidate_id, *GAME_SCORES[c.kind])
        for c in comparisons
        if c.kind in GAME_SCORES and c.candidate_id and c.other_candidate_id
    ]


def bradley_terry(
    games: Sequence[tuple[str, str, float, float]], *, rounds: int = 200
) -> dict[str, float]:
    """Strengths from games (a, b, a's win, b's win), by the MM algorithm (Hunter 2004).

    A win counts 1, a tie 0.5 to each side, a game both sides lose 0 to each:
    every game adds to the denominator alike, so losing together lowers both.
    Each item also wins and loses once against a virtual opponent of strength
    1, a weak prior that keeps strengths finite when one side always wins.
    """
    items = sorted({name for a, b, _, _ in games for name in (a, b)})
    strength = dict.fromkeys(items, 1.0)
    wins = dict.fromkeys(items, 1.0)
    for a, b, win_a, win_b in games:
        wins[a] += win_a
        wins[b] += win_b
    for _ in range(rounds):
        updated = {}
        for i in items:
            denominator = 2.0 / (strength[i] + 1.0)  # the prior's two games
            for a, b, _, _ in games:
                if i in (a, b):
                    denominator += 1.0 / (strength[a] + strength[b])
            updated[i] = wins[i] / denominator
        strength = updated
    return strength


@dataclass(frozen=True)
class ParentChoice:
    parent: Ranked | None
    rule: str | None  # RULE_HUMAN, RULE_PREFERENCES or RULE_FITNESS; None without a parent
    pick_id: int | None = None  # the feedback row of a human pick
    score: float | None = None  # the Bradley-Terry strength of a preferred parent


def choose_parent(
    *,
    candidates: Sequence[Ranked],
    unused_feedback: Sequence[Pick],
    preferences: Sequence[Comparison],
    index: int,
    higher_is_better: bool,
    iteration_of: Callable[[Ranked], int] = lambda c: c.iteration_index,  # type: ignore[attr-defined]
    has_code: Callable[[Ranked], bool] = lambda c: bool(c.code),  # type: ignore[attr-defined]
) -> ParentChoice:
    """The parent of iteration ``index`` from the candidates of the iterations before it."""
    if index == 0:
        return ParentChoice(None, None)
    by_id = {c.id: c for c in candidates if has_code(c)}
    picks = [f for f in unused_feedback if f.kind == "parent" and f.candidate_id in by_id]
    if picks:
        pick = max(picks, key=lambda f: f.id)
        return ParentChoice(by_id[pick.candidate_id or ""], RULE_HUMAN, pick_id=pick.id)
    games = games_of(preferences)
    compared = {name for a, b, _, _ in games for name in (a, b)}
    last = [c for c in by_id.values() if iteration_of(c) == index - 1 and c.id in compared]
    if last:
        scores = bradley_terry(games)
        by_fitness = {
            c.id: n for n, c in enumerate(ranked(last, higher_is_better=higher_is_better))
        }
        top = min(last, key=lambda c: (-scores[c.id], by_fitness.get(c.id, len(last))))
        return ParentChoice(top, RULE_PREFERENCES, score=scores[top.id])
    best = best_of(candidates, higher_is_better=higher_is_better)
    return ParentChoice(best, RULE_FITNESS if best else None)
