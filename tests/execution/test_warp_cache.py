"""The trusted kernel cache when the data directory cannot hold it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from app.execution.warp_cache import seed_cache
from sandbox.spec import TrainSpec


def test_a_data_dir_that_cannot_hold_the_cache_costs_only_the_speed_up(
    tmp_path: Path, data_dir_setting: Callable[[Path], Path], caplog: pytest.LogCaptureFixture
) -> None:
    # A file where the data directory should be: no cache can be made under it (as on a
    # read-only or full disk, whoever the user is).
    blocked = tmp_path / "data"
    blocked.write_text("not a directory")
    data_dir_setting(blocked)
    spec = TrainSpec(
        env_id="Hopper-v5",
        fitness_metric="forward_distance",
        output_dir=str(tmp_path / "out"),
        simulator="mujoco_warp",
    )
    seed_cache(spec, tmp_path / "out" / "warp-cache", gpu=False)  # logs, does not raise
    assert not (tmp_path / "out" / "warp-cache").exists()
    assert "no compiled MuJoCo Warp kernels for Hopper-v5" in caplog.text
