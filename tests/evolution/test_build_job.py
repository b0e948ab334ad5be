"""The sandbox specs of a candidate: the run's simulator reaches training, while the
evaluator always scores on Gymnasium's own env."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from app.db.models import Candidate
from app.evolution.training import build_job
from app.execution.executor import CandidateJob
from app.run_options import RunSpec, TrainingOptions
from envs import get_card


def _job(tmp_path: Path, **options: object) -> CandidateJob:
    card = get_card("HalfCheetah-v5")
    spec = RunSpec(
        env_id=card.env_id,
        task="run forward",
        fitness_metric=card.default_metric.name,
        timesteps=4096,
        options=TrainingOptions.model_validate(options),
    )
    candidate = Candidate(id="c1", seed=3, code="def compute_reward(): ...")
    return build_job(run_id="r1", spec=spec, card=card, candidate=candidate, artifacts=tmp_path)


@pytest.mark.parametrize("simulator", ["mujoco", "mujoco_warp"])
def test_build_job_passes_the_simulator_to_training_only(tmp_path: Path, simulator: str) -> None:
    job = _job(tmp_path, simulator=simulator, n_envs=2048 if simulator == "mujoco_warp" else 8)
    assert job.train.simulator == simulator
    assert job.train.n_envs == (2048 if simulator == "mujoco_warp" else 8)
    assert "simulator" not in {f.name for f in dataclasses.fields(job.eval)}


def test_build_job_trains_on_gymnasium_mujoco_by_default(tmp_path: Path) -> None:
    assert _job(tmp_path).train.simulator == "mujoco"
