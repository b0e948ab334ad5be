"""`make demo`: the main job on the embedded default. An offline run on
MountainCarContinuous-v0, whose own reward is weak, ends with the evolved
reward's success beside the env reward's."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from tests.processes import REPO, cli_env, run_cli


def demo_args() -> list[str]:
    """The exact arguments `make demo` passes (read from the Makefile)."""
    makefile = (REPO / "Makefile").read_text().replace("\\\n", " ")
    match = re.search(r"^DEMO_ARGS \?= (.+)$", makefile, re.M)
    assert match, "the Makefile defines DEMO_ARGS"
    return shlex.split(match.group(1))


@pytest.mark.timeout(1800)
def test_demo_evolved_reward_succeeds_beside_the_env_reward(tmp_path: Path) -> None:
    args = demo_args()
    assert "--offline" in args and "MountainCarContinuous-v0" in args
    done = run_cli(["run", *args, "--json"], cli_env(tmp_path / "data"), timeout=1500)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    assert summary["status"] == "succeeded"
    final = summary["final"]
    evolved, env = final["candidate"], final["env"]
    assert evolved["success_rate"] >= 0.5, final
    assert evolved["success_rate"] >= env["success_rate"], final
    assert summary["best_fitness"] is not None and summary["baseline_fitness"] is not None
