"""Sandboxes train at a lower CPU priority, so the API keeps answering while they run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.config import Settings
from app.execution.launcher import SandboxPolicy, launch_training
from tests.sandbox.jobs import pendulum_job

# The reward reports the niceness it runs at through the error the launcher keeps.
REPORT_NICENESS = """import os

def compute_reward(state, action):
    raise RuntimeError(f"niceness={os.nice(0)}")
"""


def _niceness_inside(out: Path, policy: SandboxPolicy) -> int:
    train, _ = pendulum_job(out, reward_code=REPORT_NICENESS)
    outcome = launch_training(train, deadline_s=120.0, heartbeat_timeout_s=None, policy=policy)
    assert outcome.error is not None and "niceness=" in outcome.error, outcome.error
    return int(outcome.error.split("niceness=", 1)[1].split()[0].strip("'\")"))


def test_sandbox_code_runs_at_the_configured_niceness(tmp_path: Path) -> None:
    base = os.nice(0)
    settings = Settings(_env_file=None, data_dir=tmp_path / "data")  # type: ignore[call-arg]
    assert settings.sandbox_nice == 10
    policy = SandboxPolicy.from_settings(settings)
    assert _niceness_inside(tmp_path / "default", policy) == min(base + 10, 19)


@pytest.mark.parametrize("nice", [0, 5])
def test_niceness_is_a_setting(tmp_path: Path, nice: int) -> None:
    base = os.nice(0)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=tmp_path / "data", sandbox_nice=nice
    )
    policy = SandboxPolicy.from_settings(settings)
    assert _niceness_inside(tmp_path / "set", policy) == min(base + nice, 19)
