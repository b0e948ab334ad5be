"""One tiny trained Pendulum policy, shared by the training and evaluation tests."""

from __future__ import annotations

import pytest

from tests.sandbox.jobs import Trained, pendulum_job, run_module


@pytest.fixture(scope="session")
def trained_pendulum(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """PPO on Pendulum with a candidate reward: 2 rollouts of 4 envs x 256 steps."""
    out = tmp_path_factory.mktemp("pendulum")
    train, evaluation = pendulum_job(out, timesteps=2048)
    done = run_module("sandbox.train", train, "train_spec.json")
    return Trained(train, evaluation, out, done.returncode, done.stderr)
