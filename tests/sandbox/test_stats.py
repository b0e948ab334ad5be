"""Statistics helpers: the running correlation and the size cap of stats.json."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sandbox.stats import Pearson, capped_json, summary


def test_running_correlation_matches_numpy_over_merged_batches() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(1000.0, 50.0, size=500)
    y = 0.3 * x + rng.normal(0.0, 10.0, size=500)
    pearson = Pearson()
    for start in range(0, 500, 37):  # uneven batches, as checkpoints deliver them
        pearson.update(list(x[start : start + 37]), list(y[start : start + 37]))
    assert pearson.value() == pytest.approx(np.corrcoef(x, y)[0, 1], rel=1e-9)


def test_correlation_is_none_when_undefined() -> None:
    pearson = Pearson()
    pearson.update([1.0], [2.0])
    assert pearson.value() is None
    pearson.update([1.0, 1.0], [3.0, 4.0])  # constant x
    assert pearson.value() is None


def test_correlation_survives_a_round_trip_through_json() -> None:
    first = Pearson()
    first.update([1.0, 2.0, 3.0], [2.0, 4.0, 5.0])
    resumed = Pearson(**json.loads(json.dumps(vars(first))))
    resumed.update([4.0, 5.0], [9.0, 9.5])
    assert resumed.value() == pytest.approx(
        np.corrcoef([1, 2, 3, 4, 5], [2, 4, 5, 9, 9.5])[0, 1], rel=1e-12
    )


def test_summary_writes_non_finite_as_none() -> None:
    assert summary([1.0, 3.0]) == {"mean": 2.0, "min": 1.0, "max": 3.0}
    assert summary([1.0, float("inf")])["max"] is None


def test_capped_json_thins_checkpoints_to_fit_and_says_so() -> None:
    component = {"mean": 1.234567, "min": 0.1234567, "max": 9.87654321}
    point = {"steps": 0, "episodes": 3, "components": {f"c{i}": component for i in range(20)}}
    checkpoints = [{**point, "steps": i * 100} for i in range(200)]
    doc = {"version": 1, "checkpoints": checkpoints, "truncated": False}
    text = capped_json(doc, 16 * 1024)
    assert len(text.encode()) <= 16 * 1024
    parsed = json.loads(text)
    assert parsed["truncated"] is True
    steps = [c["steps"] for c in parsed["checkpoints"]]
    assert steps[0] == 0 and steps[-1] == 19_900 and steps == sorted(steps)


def test_capped_json_leaves_a_small_document_alone() -> None:
    doc = {"version": 1, "checkpoints": [{"steps": 1, "episodes": 0}], "truncated": False}
    assert json.loads(capped_json(doc, 1024)) == doc
