"""bench/screening_replay.py: which rewards a threshold screens, the env steps it saves,
and whether the search's top-k (what the final evaluation retrains) stays the same."""

from __future__ import annotations

import sys

from tests.processes import REPO

sys.path.insert(0, str(REPO / "bench"))
from screening_replay import Search, Trained, replay, report  # noqa: E402


def _search(name: str = "task-s0", top_k: int = 2) -> Search:
    return Search(
        name=name,
        higher_is_better=True,
        top_k=top_k,
        candidates=[
            Trained("a", 0, 5.0, 1000, None),  # first iteration: nothing to screen on
            Trained("b", 0, 2.0, 1000, None),
            Trained("c", 1, 9.0, 1000, 0.4),  # the best, weakly correlated
            Trained("d", 1, 1.0, 1000, -0.2),  # anti-correlated and poor
            Trained("e", 1, None, 1000, 0.1),  # failed in training
        ],
        final_steps=4000,
    )


def test_an_anti_correlated_poor_reward_is_screened_without_changing_the_top_k() -> None:
    result = replay(_search(), 0.0)
    assert (result.screened, result.steps_saved, result.search_steps) == (1, 1000, 5000)
    assert result.top_k_same and not result.best_screened


def test_a_threshold_that_screens_the_best_changes_the_top_k() -> None:
    result = replay(_search(), 0.5)
    assert result.screened == 3
    assert not result.top_k_same and result.best_screened


def test_the_report_gives_the_ratio_and_names_the_searches_that_changed() -> None:
    table = report([_search("one"), _search("two", top_k=1)], [0.0, 0.5])
    rows = table.splitlines()[2:]
    assert rows[0].startswith("| 0 | 2 of 6 | 2,000 of 10,000 (20%) | 0.889 | 2 of 2 | 0 |")
    assert "| 0 of 2 (changed: one, two) | 2 (one, two) |" in rows[1]
