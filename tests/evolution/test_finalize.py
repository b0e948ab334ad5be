"""The final comparison: Eureka's human-normalised score and its summary."""

from __future__ import annotations

import pytest

from app.db.models import Candidate
from app.evolution.finalize import normalized_score, summarize


@pytest.mark.parametrize(
    ("method", "human", "sparse", "higher", "expected"),
    [
        (2.0, 1.0, 0.0, True, 2.0),  # twice as good as the human reward
        (1.0, 1.0, 0.0, True, 1.0),
        (0.0, 1.0, 0.0, True, 0.0),
        (0.05, 0.1, 0.3, False, 1.25),  # distances: lower is better
        (1.0, 0.5, 0.5, True, None),  # human == sparse: undefined, not infinite
        (None, 1.0, 0.0, True, None),
    ],
)
def test_normalized_score(method, human, sparse, higher, expected) -> None:  # type: ignore[no-untyped-def]
    assert normalized_score(method, human, sparse, higher) == (
        pytest.approx(expected) if expected is not None else None
    )


def test_summary_averages_seeds_and_counts_failures() -> None:
    rows = [
        Candidate(reward_source="candidate", fitness=0.5, success_rate=1.0),
        Candidate(reward_source="candidate", fitness=0.3, success_rate=0.5),
        Candidate(reward_source="env", fitness=-0.4, success_rate=0.0),
        Candidate(reward_source="env", fitness=None, success_rate=None),
        Candidate(reward_source="fitness", fitness=0.0, success_rate=0.0),
        Candidate(reward_source="fitness", fitness=-0.2, success_rate=0.0),
    ]
    summary = summarize(rows, higher_is_better=True)
    assert summary["candidate"]["mean"] == pytest.approx(0.4)
    assert summary["candidate"]["success_rate"] == pytest.approx(0.75)
    assert summary["env"]["failed"] == 1 and summary["env"]["fitness"] == [-0.4]
    assert summary["normalized_score"] == pytest.approx((0.4 - -0.1) / abs(-0.4 - -0.1))
