"""Sandboxes train at a lower CPU priority, so the API keeps answering while they run:
at niceness 19 (on their session too) and in the kernel's idle scheduling class."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from app.config import Settings
from app.execution import isolation
from app.execution.launcher import SandboxPolicy, launch_training
from tests.sandbox.jobs import pendulum_job

AUTOGROUP = Path("/proc/self/autogroup")
# Where the kernel groups each session's processes (an "autogroup"), a process's
# niceness ranks it only inside its session: the session's own niceness is what
# ranks a sandbox against the API.
AUTOGROUPS = AUTOGROUP.exists() and Path("/proc/sys/kernel/sched_autogroup_enabled").read_text(
    encoding="ascii"
).strip() not in ("", "0")

# The reward reports the niceness it runs at, its session's and its scheduling
# policy, through the error the launcher keeps.
REPORT_NICENESS = """import os

def compute_reward(state, action):
    try:
        group = open("/proc/self/autogroup").read().split()[-1]
    except OSError:
        group = "none"
    policy = os.sched_getscheduler(0)
    raise RuntimeError(f"niceness={os.nice(0)} session={group} policy={policy} end")
"""


def _report(out: Path, policy: SandboxPolicy) -> dict[str, str]:
    train, _ = pendulum_job(out, reward_code=REPORT_NICENESS)
    outcome = launch_training(train, deadline_s=120.0, heartbeat_timeout_s=None, policy=policy)
    assert outcome.error is not None and "niceness=" in outcome.error, outcome.error
    words = ("niceness=" + outcome.error.split("niceness=", 1)[1].split(" end", 1)[0]).split()
    return dict(word.split("=", 1) for word in words)


def _reported(out: Path, policy: SandboxPolicy) -> tuple[int, str]:
    """The niceness of the sandbox's process and of its session (or "none")."""
    report = _report(out, policy)
    return int(report["niceness"]), report["session"]


def _niceness_inside(out: Path, policy: SandboxPolicy) -> int:
    niceness, session = _reported(out, policy)
    if AUTOGROUPS:
        assert session == str(policy.nice), (policy.level, session)
    return niceness


def test_sandbox_code_runs_at_the_configured_niceness(tmp_path: Path) -> None:
    base = os.nice(0)
    settings = Settings(_env_file=None, data_dir=tmp_path / "data")  # type: ignore[call-arg]
    assert settings.sandbox_nice == 19
    policy = SandboxPolicy.from_settings(settings)
    assert _niceness_inside(tmp_path / "default", policy) == min(base + 19, 19)


@pytest.mark.parametrize("nice", [0, 5])
def test_niceness_is_a_setting(tmp_path: Path, nice: int) -> None:
    base = os.nice(0)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=tmp_path / "data", sandbox_nice=nice
    )
    policy = SandboxPolicy.from_settings(settings)
    assert _niceness_inside(tmp_path / "set", policy) == min(base + nice, 19)


@pytest.mark.skipif(not AUTOGROUPS, reason="the kernel does not group processes by session")
@pytest.mark.parametrize("level", ["bwrap", "unshare", "rlimits"])
def test_the_sandbox_session_yields_at_every_level(tmp_path: Path, level: str) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path / "data")  # type: ignore[call-arg]
    policy = replace(SandboxPolicy.from_settings(settings), level=level)
    if (reason := isolation.probe()[level]) is not None:
        pytest.skip(f"{level} cannot run here: {reason}")
    assert _reported(tmp_path / level, policy)[1] == "19"


@pytest.mark.parametrize("level", ["bwrap", "unshare", "rlimits"])
def test_sandboxes_train_in_the_idle_scheduling_class(tmp_path: Path, level: str) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path / "data")  # type: ignore[call-arg]
    assert settings.sandbox_idle_class
    policy = replace(SandboxPolicy.from_settings(settings), level=level)
    if (reason := isolation.probe()[level]) is not None:
        pytest.skip(f"{level} cannot run here: {reason}")
    assert int(_report(tmp_path / level, policy)["policy"]) == os.SCHED_IDLE


def test_the_idle_class_is_a_setting(tmp_path: Path) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=tmp_path / "data", sandbox_idle_class=False
    )
    policy = SandboxPolicy.from_settings(settings)
    assert int(_report(tmp_path / "normal", policy)["policy"]) == os.SCHED_OTHER
