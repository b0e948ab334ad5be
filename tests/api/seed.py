"""Put runs, iterations and candidates into the database the way the worker does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from app.db.models import Candidate, Run
from app.db.repository import (
    create_candidate,
    get_or_create_iteration,
    record_candidate_result,
    set_iteration_status,
    update_run_results,
)
from tests.db.factories import new_run

REWARD = """import numpy as np

def compute_reward(state, action):
    upright = np.cos(state["pole_angle"])
    return upright, {"upright": upright}
"""
VIDEO_BYTES = bytes(range(256)) * 40  # stands in for an MP4: the API serves bytes as they are


def queued_run(session: Session, **overrides: Any) -> Run:
    """A queued CartPole run with tiny budgets."""
    return new_run(session, **overrides)


def _write_artifacts(folder: Path, fitness: float) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "rollout.mp4").write_bytes(VIDEO_BYTES)
    (folder / "policy.pt").write_bytes(b"weights")
    (folder / "evaluation.json").write_text(json.dumps({"fitness": fitness}))
    return str(folder)


def finished_iteration(
    session: Session, *, run: Run, index: int, artifacts_dir: Path, parent: Candidate | None = None
) -> list[Candidate]:
    """Iteration ``index`` with a stored prompt and ``run.samples`` candidates: the
    first failed validation, the others trained (fitness 10, 20, ...) with artifacts."""
    iteration = get_or_create_iteration(session, run_id=run.id, index=index)
    iteration.messages = [
        {"role": "system", "content": "write rewards"},
        {"role": "user", "content": f"iteration {index}: {run.task}"},
    ]
    made = []
    for sample in range(run.samples):
        code = REWARD.replace("upright, {", f"upright * {sample + 1}, {{")
        candidate = create_candidate(
            session,
            run_id=run.id,
            iteration_index=index,
            sample_index=sample,
            parent_id=parent.id if parent else None,
            response_text=f"```python\n{code}```",
            code=code if sample else None,
            status="pending" if sample else "invalid",
            error_kind=None if sample else "extraction",
            error=None if sample else "no code block",
        )
        if sample:
            fitness = 10.0 * sample
            record_candidate_result(
                session,
                candidate_id=candidate.id,
                fitness=fitness,
                success_rate=0.5,
                stats={"reward": {"mean": [1.0, 2.0]}},
                env_steps=run.timesteps,
                train_seconds=3.0,
                sandbox_level="rlimits",
                artifact_dir=_write_artifacts(artifacts_dir / run.id / candidate.id, fitness),
            )
        made.append(candidate)
    best = made[-1]
    set_iteration_status(
        session, run_id=run.id, index=index, status="done", best_candidate_id=best.id
    )
    update_run_results(session, run_id=run.id, best_candidate_id=best.id, best_fitness=best.fitness)
    return made
