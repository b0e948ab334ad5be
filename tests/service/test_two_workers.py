"""Two worker processes on one Postgres database share three queued runs: each
run is claimed by one worker only, and no candidate is trained twice."""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

import pytest
from sqlalchemy import select

from app.db.models import Candidate, Event, Run
from app.db.repository import create_run
from app.db.session import make_engine, make_session_factory
from tests.processes import cli_env, start_cli
from tests.service.helpers import stop

pytestmark = pytest.mark.postgres


def test_two_workers_share_three_runs_on_postgres(
    postgres_test_database: str, tmp_path: Path
) -> None:
    factory = make_session_factory(make_engine(postgres_test_database))
    with factory() as session:
        run_ids = [
            create_run(
                session,
                env_id="MountainCarContinuous-v0",
                task=f"reach the flag {i}",
                fitness_metric="reach_flag",
                iterations=1,
                samples=2,
                timesteps=2000,
                final_seeds=0,
                seed=i,
                llm={"offline": True},
                options={"n_envs": 2, "eval_episodes": 1, "video": False},
            ).id
            for i in range(3)
        ]
        session.commit()
    env = cli_env(tmp_path / "data", database_url=postgres_test_database, workers="1")
    workers = [start_cli(["worker"], env, tmp_path / f"worker{i}.log") for i in range(2)]
    try:
        deadline = time.monotonic() + 400
        while time.monotonic() < deadline:
            with factory() as session:
                statuses = set(session.scalars(select(Run.status).where(Run.id.in_(run_ids))))
            if statuses <= {"succeeded", "failed"}:
                break
            time.sleep(0.5)
    finally:
        for worker in workers:
            stop(worker)
    with factory() as session:
        runs = list(session.scalars(select(Run).where(Run.id.in_(run_ids))))
        assert [r.status for r in runs] == ["succeeded"] * 3
        claims: dict[str, set[str]] = defaultdict(set)
        for event in session.scalars(select(Event).where(Event.kind == "run.claimed")):
            claims[event.run_id].add(event.data["worker_id"])
        assert all(len(claims[run_id]) == 1 for run_id in run_ids)  # one worker per run
        assert len(set().union(*claims.values())) == 2  # and both workers took part
        rows = list(session.scalars(select(Candidate).where(Candidate.run_id.in_(run_ids))))
    assert len(rows) == 6 and all(c.attempts == 1 and c.status == "done" for c in rows)
