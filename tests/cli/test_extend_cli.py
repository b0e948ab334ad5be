"""A finished CLI run given more iterations with ``--resume ID --more-iterations K``:
it trains the new iteration here, in the foreground, and ends with both."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from app.db.models import Candidate, Iteration, Run
from app.db.session import make_engine, make_session_factory
from app.run_options import MAX_ITERATIONS
from tests.processes import cli_env, offline_run_args, run_cli

SMALLEST = [*offline_run_args(iterations=1, samples=1, timesteps=1000, n_envs=1), "--json"]


def test_more_iterations_extend_a_finished_run_in_the_foreground(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = cli_env(data, workers="1")
    first = run_cli(SMALLEST, env)
    assert first.returncode == 0, first.stderr[-3000:]
    run_id = json.loads(first.stdout)["run_id"]

    extended = run_cli(["run", "--resume", run_id, "--more-iterations", "1", "--json"], env)
    assert extended.returncode == 0, extended.stderr[-3000:]
    assert f"run {run_id} (extended to 2 iterations)" in extended.stderr
    assert json.loads(extended.stdout)["status"] == "succeeded"
    factory = make_session_factory(make_engine(f"sqlite:///{data / 'rewardforge.db'}"))
    with factory() as session:
        run = session.get(Run, run_id)
        assert run is not None and (run.status, run.iterations) == ("succeeded", 2)
        done = session.scalars(select(Iteration.index).where(Iteration.status == "done"))
        assert sorted(done) == [0, 1]
        trained = session.scalars(select(Candidate).where(Candidate.status == "done"))
        assert sorted(c.iteration_index for c in trained) == [0, 1]

    too_many = run_cli(["run", "--resume", run_id, "--more-iterations", "60"], env)
    assert too_many.returncode == 2
    said = " ".join(too_many.stderr.replace("│", " ").split())  # unwrapped from rich's box
    assert f"1 to {MAX_ITERATIONS - 2} more, not 60" in said
