"""``rewardforge run --simulator``: the flag reaches the stored run, and its errors name
the flag. No run here trains: the batched simulator is checked as stored, not run."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app, runs
from app.config import get_settings
from app.db.repository import list_runs
from app.db.session import get_session_factory
from app.run_options import spec_of
from sandbox.batched import unavailable_reason
from tests.cli.panel import flat
from tests.processes import cli_env, run_cli

BATCHED_HERE = unavailable_reason("HalfCheetah-v5", "mujoco_warp")


def test_simulator_errors_name_the_flag(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "data")
    base = ["run", "--task", "x", "--offline"]
    uncovered = run_cli([*base, "--env", "Pendulum-v1", "--simulator", "mujoco_warp"], env)
    assert uncovered.returncode != 0
    assert "--simulator: simulator 'mujoco_warp' does not cover Pendulum-v1" in flat(
        uncovered.stderr
    )
    unknown = run_cli([*base, "--env", "HalfCheetah-v5", "--simulator", "isaac"], env)
    assert unknown.returncode != 0
    assert "--simulator: Input should be 'mujoco' or 'mujoco_warp'" in flat(unknown.stderr)
    too_many = run_cli([*base, "--env", "HalfCheetah-v5", "--n-envs", "300"], env)
    assert too_many.returncode != 0
    assert "--n-envs: Value error, n_envs 300 is over 256" in flat(too_many.stderr)


@pytest.mark.skipif(BATCHED_HERE is not None, reason=str(BATCHED_HERE))
def test_run_with_simulator_flag_stores_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The run as `rewardforge run` stores it; executing it is left out (no training)."""
    for name, value in cli_env(tmp_path / "data").items():
        if name.startswith("REWARDFORGE_"):
            monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    monkeypatch.setattr(runs, "_execute_here", lambda *args: None)
    args = ["run", "--env", "HalfCheetah-v5", "--task", "run forward", "--offline"]
    args += ["--simulator", "mujoco_warp", "--n-envs", "4096", "--device", "cpu"]
    try:
        done = CliRunner().invoke(app, args)
        url = get_settings().resolved_database_url
    finally:
        get_settings.cache_clear()
    assert done.exit_code == 1, done.output  # the run was not executed, so it did not succeed
    with get_session_factory(url)() as session:
        [stored], _ = list_runs(session, status=None, limit=10, offset=0)
        options = spec_of(stored).options
    assert (options.simulator, options.n_envs, options.device) == ("mujoco_warp", 4096, "cpu")
