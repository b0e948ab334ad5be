"""An interrupted CLI run resumes with ``--resume`` without retraining what finished."""

from __future__ import annotations

import json
import re
import signal
import time
from pathlib import Path

from sqlalchemy import select

from app.db.models import Candidate, Run
from app.db.session import make_engine, make_session_factory
from tests.processes import cli_env, offline_run_args, run_cli, start_cli

ARGS = offline_run_args(iterations=2, samples=2, timesteps=6000, n_envs=2)


def test_killed_cli_run_resumes_without_retraining(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = cli_env(data, lease_seconds="3", workers="1")
    url = f"sqlite:///{data / 'rewardforge.db'}"
    process = start_cli(ARGS, env, tmp_path / "first.log")
    factory = None
    deadline = time.monotonic() + 300
    finished: dict[str, float | None] = {}
    log = tmp_path / "first.log"
    while time.monotonic() < deadline and not finished:
        time.sleep(0.5)
        # The CLI names the run once it is stored, so the migration has made the
        # tables by then; the database file alone exists before they do.
        if not re.search(r"^run \w+ \(new\)", log.read_text(errors="replace"), re.M):
            continue
        factory = factory or make_session_factory(make_engine(url))
        with factory() as session:
            rows = list(session.scalars(select(Candidate)))
        if any(c.status == "training" for c in rows):
            finished = {c.id: c.train_seconds for c in rows if c.status == "done"}
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert factory is not None and finished, log.read_text()[-2000:]
    with factory() as session:
        run_id = session.scalars(select(Run.id)).one()

    time.sleep(3.5)  # the dead process's lease runs out
    resumed = run_cli(["run", "--resume", run_id, "--json"], env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert json.loads(resumed.stdout)["status"] == "succeeded"
    with factory() as session:
        rows = list(session.scalars(select(Candidate).where(Candidate.run_id == run_id)))
    assert len(rows) == 4 and all(c.status == "done" for c in rows)
    for candidate in rows:
        if candidate.id in finished:
            assert candidate.attempts == 1
            assert candidate.train_seconds == finished[candidate.id]
