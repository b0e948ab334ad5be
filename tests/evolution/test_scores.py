"""Scores that mean something: the human-normalised score only where the env's own
reward is a fair baseline for the task; fitness and success against the sparse reward
always, in the run's final summary and the CLI's report."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from app.cli.report import print_run, run_summary
from app.db.models import Candidate, Run
from app.evolution.finalize import summarize
from app.run_options import RunSpec
from app.run_prepare import env_reward_is_baseline
from tests.evolution.runs import TinyRun, new_run
from tests.evolution.scripted import ScriptedExecutor

OPTIONS = {"eval_episodes": 1, "video": False, "halving": False, "final_top_k": 1}


def _rows() -> list[Candidate]:
    return [
        Candidate(reward_source="candidate", fitness=0.5, success_rate=1.0),
        Candidate(reward_source="env", fitness=-0.4, success_rate=0.0),
        Candidate(reward_source="fitness", fitness=0.1, success_rate=0.0),
    ]


def test_no_normalised_score_where_the_env_reward_is_no_baseline() -> None:
    summary = summarize(_rows(), higher_is_better=True, env_is_baseline=False)
    assert summary["normalized_score"] is None and summary["env_is_baseline"] is False
    assert summary["gain_over_sparse"] == pytest.approx(0.4)
    assert summary["candidate"]["success_rate"] == 1.0
    fair = summarize(_rows(), higher_is_better=True, env_is_baseline=True)
    assert fair["normalized_score"] == pytest.approx((0.5 - 0.1) / 0.5)


@pytest.mark.parametrize(
    ("metric", "given", "expected"),
    [
        ("forward_distance", None, True),  # the card's default: what its reward pays for
        ("backward_distance", None, False),
        ("backward_distance", True, True),  # the user knows better
        ("forward_distance", False, False),
    ],
)
def test_the_env_reward_is_a_baseline_by_default_only_for_the_cards_default_metric(
    metric: str, given: bool | None, expected: bool
) -> None:
    spec = RunSpec.model_validate(
        {
            "env_id": "HalfCheetah-v5",
            "task": "run",
            "fitness": metric,
            "options": {"env_reward_is_baseline": given},
        }
    )
    assert env_reward_is_baseline(spec, "forward_distance") is expected


def _finished(tmp_path: Path, metric: str) -> tuple[TinyRun, Run, str]:
    tiny = new_run(tmp_path / metric, fitness_metric=metric, final_seeds=1, options=OPTIONS)
    assert tiny.execute(ScriptedExecutor()) == "succeeded"
    console = Console(record=True, width=200)
    with tiny.factory() as session:
        run = session.get(Run, tiny.run_id)
        assert run is not None
        print_run(console, session, run, data_location="here")
        assert run_summary(session, run)["final"]["env_is_baseline"] == (metric == "reach_flag")
    return tiny, run, console.export_text()


def test_a_run_on_a_metric_the_env_reward_was_not_written_for_shows_no_normalised_score(
    tmp_path: Path,
) -> None:
    # MountainCar's default metric is reach_flag; goal_reached is another task's measure.
    _, run, text = _finished(tmp_path, "goal_reached")
    assert run.normalized_score is None and run.final["env_is_baseline"] is False
    assert "human-normalised score: not computed" in text
    assert "env's own reward (not this task's)" in text
    assert "evolved reward over the sparse reward" in text

    _, fair, shown = _finished(tmp_path, "reach_flag")
    assert fair.final["env_is_baseline"] is True
    assert "human-normalised score: not computed" not in shown
    assert "env's own reward (human)" in shown
