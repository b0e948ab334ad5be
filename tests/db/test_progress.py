"""Progress while a candidate trains, through the run store: queued until its sandbox
reports, steps that only grow while it trains, and no report after its result."""

from __future__ import annotations

from types import SimpleNamespace

from sqlalchemy.orm import Session, sessionmaker

from app.db.candidates import create_candidate, get_candidate
from app.db.run_store import RunStore
from tests.db.factories import new_run

STATS = {
    "steps": 500,
    "checkpoints": [
        {
            "steps": 500,
            "episodes": 2,
            "reward": {"mean": 1.5, "min": 1.0, "max": 2.0},
            "fitness": {"mean": 0.25, "min": 0.0, "max": 0.5},
            "components": {"upright": {"mean": 2.0, "min": 1.0, "max": 3.0}},
        }
    ],
}


def _result(key: str) -> SimpleNamespace:
    return SimpleNamespace(
        key=key, status="done", error=None, error_kind=None, stats=STATS, evaluation={},
        fitness=0.5, success_rate=1.0, env_steps=1000, train_seconds=2.0,
        sandbox_level="rlimits", artifact_dir=None,
    )  # fmt: skip


def test_progress_moves_queued_to_training_and_never_undoes_a_result(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        run_id = new_run(session).id
        key = create_candidate(session, run_id=run_id, iteration_index=0, sample_index=0).id
    store = RunStore(session_factory)
    assert store.claim(key)
    assert store.get_candidates([key])[key].status == "queued"

    started = store.record_progress(run_id, key, 0, total=1000)
    assert started == {"id": key, "env_steps": 0, "total": 1000}
    event = store.record_progress(run_id, key, 500, total=1000, stats=STATS)
    assert event is not None and event["checkpoint"] == {
        "steps": 500, "episodes": 2, "reward": 1.5, "fitness": 0.25, "components": {"upright": 2.0},
    }  # fmt: skip
    store.record_progress(run_id, key, 0, total=1000)  # a rung's sandbox says 0 before loading
    with session_factory() as session:
        row = get_candidate(session, candidate_id=key)
        assert row is not None and (row.status, row.env_steps) == ("training", 500)
        assert row.stats == STATS

    store.record_result(_result(key))
    assert store.record_progress(run_id, key, 10, total=1000) is None
    with session_factory() as session:
        row = get_candidate(session, candidate_id=key)
        assert row is not None and (row.status, row.env_steps) == ("done", 1000)
