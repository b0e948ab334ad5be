"""Bradley-Terry over the person's comparisons: wins, ties and pairs both bad."""

from __future__ import annotations

from dataclasses import dataclass

from app.evolution.selection import bradley_terry, games_of


@dataclass
class Said:
    kind: str
    candidate_id: str
    other_candidate_id: str


def test_a_tie_is_half_a_win_each_and_both_bad_lowers_both() -> None:
    said = [
        Said("tie", "a", "b"),
        Said("both_bad", "c", "d"),
        Said("preference", "a", "c"),
        Said("text", "x", "y"),  # not a comparison
    ]
    games = games_of(said)
    assert games == [("a", "b", 0.5, 0.5), ("c", "d", 0.0, 0.0), ("a", "c", 1.0, 0.0)]
    strength = bradley_terry(games)
    assert set(strength) == {"a", "b", "c", "d"}
    assert strength["a"] > strength["b"] > strength["c"]
    assert strength["d"] < 1.0  # lost together with c, never won


def test_a_lone_tie_leaves_both_equal() -> None:
    strength = bradley_terry(games_of([Said("tie", "a", "b")]))
    assert abs(strength["a"] - strength["b"]) < 1e-9
