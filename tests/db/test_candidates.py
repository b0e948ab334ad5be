"""Candidates and iterations: creation, filters, the claim guard, results, duplicates."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.db.candidates import (
    claim_candidate,
    create_candidate,
    get_candidate,
    list_candidates,
    record_candidate_result,
    reset_unfinished_candidates,
)
from app.db.events import events_after
from app.db.iterations import (
    get_or_create_iteration,
    list_iterations,
    set_iteration_status,
)
from tests.db.factories import new_run


def test_iteration_is_created_once_with_its_prompt(session_factory: sessionmaker[Session]) -> None:
    messages = [{"role": "system", "content": "write a reward"}, {"role": "user", "content": "go"}]
    with session_factory.begin() as session:
        run_id = new_run(session).id
        first = get_or_create_iteration(session, run_id=run_id, index=0)
        assert get_or_create_iteration(session, run_id=run_id, index=0).id == first.id
        first.messages = messages
        set_iteration_status(session, run_id=run_id, index=0, status="done", best_candidate_id="c1")
        get_or_create_iteration(session, run_id=run_id, index=1, parent_candidate_id="c1")
    with session_factory() as session:
        stored = list_iterations(session, run_id=run_id)
        assert [(it.index, it.status) for it in stored] == [(0, "done"), (1, "proposing")]
        assert stored[0].messages == messages and stored[1].parent_candidate_id == "c1"
        kinds = [e.kind for e in events_after(session, run_id=run_id)]
        assert kinds == [
            "run.created",
            "iteration.started",
            "iteration.status",
            "iteration.started",
        ]


def test_candidates_filter_by_iteration_status_and_kind(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        run_id = new_run(session).id
        for sample in range(3):
            create_candidate(session, run_id=run_id, iteration_index=0, sample_index=sample)
        create_candidate(
            session, run_id=run_id, iteration_index=1, sample_index=0, status="invalid",
            error_kind="validation", error="compute_reward is missing",
        )  # fmt: skip
        create_candidate(session, run_id=run_id, iteration_index=1, sample_index=1, kind="final")
    with session_factory() as session:
        assert len(list_candidates(session, run_id=run_id)) == 5
        first = list_candidates(session, run_id=run_id, iteration_index=0)
        assert [c.sample_index for c in first] == [0, 1, 2]
        (invalid,) = list_candidates(session, run_id=run_id, status="invalid")
        assert (invalid.error_kind, invalid.error) == ("validation", "compute_reward is missing")
        assert len(list_candidates(session, run_id=run_id, status=["pending", "invalid"])) == 5
        assert len(list_candidates(session, run_id=run_id, kind="final")) == 1
        with pytest.raises(ValueError, match="unknown candidate status"):
            list_candidates(session, run_id=run_id, status="running")


def test_same_sample_slot_cannot_hold_two_candidates(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session:
        run_id = new_run(session).id
        create_candidate(session, run_id=run_id, iteration_index=0, sample_index=0)
        with pytest.raises(IntegrityError):
            create_candidate(session, run_id=run_id, iteration_index=0, sample_index=0)


def test_racing_claims_train_a_candidate_only_once(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        candidate_id = create_candidate(
            session, run_id=new_run(session).id, iteration_index=0, sample_index=0
        ).id
    barrier = threading.Barrier(6)
    outcomes: list[bool] = []

    def claimer() -> None:
        barrier.wait(10)
        with session_factory.begin() as session:
            outcomes.append(claim_candidate(session, candidate_id=candidate_id))

    threads = [threading.Thread(target=claimer) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == [False] * 5 + [True]
    with session_factory() as session:
        candidate = get_candidate(session, candidate_id=candidate_id)
        assert candidate is not None and (candidate.status, candidate.attempts) == ("training", 1)


def test_result_is_stored_and_logged(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        run_id = new_run(session).id
        candidate_id = create_candidate(
            session, run_id=run_id, iteration_index=0, sample_index=0
        ).id
        claim_candidate(session, candidate_id=candidate_id)
        claim_candidate(
            session, candidate_id=candidate_id, from_status="training", to_status="evaluating"
        )
        record_candidate_result(
            session, candidate_id=candidate_id, stats={"checkpoints": [1, 2]},
            evaluation={"episodes": 5}, fitness=412.5, success_rate=0.8, env_steps=4096,
            train_seconds=12.5, artifact_dir="/tmp/x", sandbox_level="bwrap",
        )  # fmt: skip
    with session_factory() as session:
        candidate = get_candidate(session, candidate_id=candidate_id)
        assert candidate is not None
        assert (candidate.status, candidate.fitness, candidate.env_steps) == ("done", 412.5, 4096)
        assert candidate.stats == {"checkpoints": [1, 2]} and candidate.sandbox_level == "bwrap"
        result = events_after(session, run_id=run_id)[-1]
        assert result.kind == "candidate.result"
        assert (result.data["fitness"], result.data["status"]) == (412.5, "done")


def test_interrupted_candidates_go_back_to_pending(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        run_id = new_run(session).id
        ids = [
            create_candidate(session, run_id=run_id, iteration_index=0, sample_index=i).id
            for i in range(3)
        ]
        claim_candidate(session, candidate_id=ids[0])
        claim_candidate(session, candidate_id=ids[1], to_status="evaluating")
        record_candidate_result(session, candidate_id=ids[2], status="failed", error="oom")
    with session_factory.begin() as session:
        assert reset_unfinished_candidates(session, run_id=run_id) == 2
    with session_factory() as session:
        statuses = [c.status for c in list_candidates(session, run_id=run_id)]
        assert statuses == ["pending", "pending", "failed"]
