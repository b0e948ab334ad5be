"""Tiny real runs for evolution and execution tests: a fresh SQLite database, the
offline proposer (or an LLM endpoint), real sandboxes, and the executor a test picks."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db.models import Candidate, Event, Run
from app.db.run_store import RunStore
from app.db.runs import create_run
from app.db.session import make_engine, make_session_factory, upgrade_database
from app.evolution.loop import execute_run
from app.evolution.progress import Progress
from app.evolution.runner import make_context
from app.execution.executor import Executor

# MountainCar's card trains 8 envs x 64 steps per rollout: budgets in multiples of 512.
MOUNTAIN_CAR: dict[str, Any] = {
    "env_id": "MountainCarContinuous-v0",
    "task": "drive up the right hill and reach the flag",
    "fitness_metric": "reach_flag",
    "iterations": 1,
    "samples": 2,
    "timesteps": 1024,
    "final_seeds": 0,
    "seed": 0,
    "llm": {"offline": True},
    "options": {"eval_episodes": 1, "video": False, "halving": False},
}


@dataclass
class TinyRun:
    """A stored run and its database; ``progress`` collects the live events of executions."""

    data_dir: Path
    url: str
    factory: sessionmaker[Session]
    run_id: str
    progress: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def execute(self, executor: Executor, *, on_progress: Progress | None = None) -> str:
        """Run (or resume) the run to its end here; returns its final status."""

        def record(kind: str, data: dict[str, Any]) -> None:
            self.progress.append((kind, data))
            if on_progress is not None:
                on_progress(kind, data)

        settings = Settings(data_dir=self.data_dir, database_url=self.url)
        ctx = make_context(
            settings=settings, store=RunStore(self.factory), progress=record, executor=executor
        )
        return execute_run(ctx, self.run_id)

    def candidates(self) -> list[Candidate]:
        with self.factory() as session:
            query = select(Candidate).where(Candidate.run_id == self.run_id)
            return list(session.scalars(query.order_by(Candidate.sample_index)))

    def events(self, kind: str) -> list[dict[str, Any]]:
        """The data of the run's stored events of ``kind``, in order."""
        with self.factory() as session:
            query = select(Event).where(Event.run_id == self.run_id, Event.kind == kind)
            return [e.data for e in session.scalars(query.order_by(Event.id))]

    def status(self) -> str:
        with self.factory() as session:
            run = session.get(Run, self.run_id)
            assert run is not None
            return run.status

    def seen(self, kind: str) -> list[dict[str, Any]]:
        """The data of the live progress events of ``kind``, in order."""
        return [data for k, data in self.progress if k == kind]


def new_run(data_dir: Path, **fields: Any) -> TinyRun:
    """A queued MountainCar run in a new database under ``data_dir``; fields override."""
    data_dir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{data_dir / 'rewardforge.db'}"
    upgrade_database(url)
    factory = make_session_factory(make_engine(url))
    with factory() as session:
        run = create_run(session, **{**MOUNTAIN_CAR, **fields})
        session.commit()
        run_id = run.id
    return TinyRun(data_dir, url, factory, run_id)
