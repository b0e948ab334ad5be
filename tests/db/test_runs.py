"""Runs: creation with validation, listing, status changes, cancelling and deleting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.db.candidates import create_candidate
from app.db.errors import ConflictError, NotFoundError
from app.db.events import events_after
from app.db.leases import claim_run
from app.db.models import Candidate, Event
from app.db.runs import (
    delete_run,
    get_run,
    list_runs,
    request_cancel,
    set_run_status,
    update_run_results,
)
from tests.db.factories import new_run


def _kinds(session: Session, run_id: str) -> list[str]:
    return [event.kind for event in events_after(session, run_id=run_id)]


def test_created_run_is_queued_and_logged(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        run_id = new_run(session, llm={"model": "m", "offline": True}).id
    with session_factory() as session:
        run = get_run(session, run_id=run_id)
        assert run is not None
        assert (run.status, run.llm, run.cancel_requested) == (
            "queued",
            {"model": "m", "base_url": None, "temperature": None, "offline": True},
            False,
        )
        assert run.created_at.tzinfo is not None
        assert abs(datetime.now(UTC) - run.created_at) < timedelta(minutes=1)
        assert _kinds(session, run_id) == ["run.created"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"iterations": 0}, "iterations\n.*greater than or equal to 1"),
        ({"timesteps": -5}, "timesteps\n.*greater than or equal to 1000"),
        ({"task": "   "}, "task\n.*at least 1 character"),
        ({"feedback_mode": "sometimes"}, "feedback_mode\n.*'none' or 'wait'"),
        ({"llm": {"api_key": "sk-123"}}, "API keys are never accepted"),
        ({"fitness_metric": "speed"}, "CartPole-v1 has no fitness metric 'speed'"),
        ({"options": {"halving_rungs": [0.5, 0.25]}}, "halving_rungs must be increasing"),
    ],
)
def test_bad_run_is_refused_with_a_clear_message(
    session_factory: sessionmaker[Session], overrides: dict, message: str
) -> None:
    with session_factory() as session, pytest.raises(ValueError, match=message):
        new_run(session, **overrides)


def test_list_filters_pages_and_counts(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        ids = [
            new_run(session, env_id="Hopper-v5" if i % 2 else "CartPole-v1").id for i in range(5)
        ]
        set_run_status(session, run_id=ids[0], status="failed", error="boom")
    with session_factory() as session:
        page, total = list_runs(session, limit=2)
        assert total == 5 and [run.id for run in page] == [ids[4], ids[3]]
        page, total = list_runs(session, limit=2, offset=4)
        assert total == 5 and [run.id for run in page] == [ids[0]]
        hoppers, total = list_runs(session, env_id="Hopper-v5")
        assert total == 2 and {run.id for run in hoppers} == {ids[1], ids[3]}
        failed, total = list_runs(session, status="failed")
        assert total == 1 and failed[0].error == "boom"
        with pytest.raises(ValueError, match="unknown run status"):
            list_runs(session, status="exploded")


def test_status_change_logs_previous_and_error(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        run_id = new_run(session).id
        set_run_status(session, run_id=run_id, status="running")
        set_run_status(session, run_id=run_id, status="running")  # unchanged: no event
        set_run_status(session, run_id=run_id, status="failed", error="no candidate trained")
    with session_factory() as session:
        events = events_after(session, run_id=run_id)
        assert [e.kind for e in events] == ["run.created", "run.status", "run.status"]
        assert events[-1].data == {
            "status": "failed",
            "previous": "running",
            "error": "no candidate trained",
        }


def test_finished_run_can_only_be_queued_again(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        run_id = new_run(session).id
        set_run_status(session, run_id=run_id, status="succeeded")
    with session_factory.begin() as session:
        with pytest.raises(ConflictError, match="can only be queued again"):
            set_run_status(session, run_id=run_id, status="running")
        with pytest.raises(ValueError, match="unknown run status"):
            set_run_status(session, run_id=run_id, status="paused")
        with pytest.raises(NotFoundError):
            set_run_status(session, run_id="nope", status="running")
        assert set_run_status(session, run_id=run_id, status="queued").status == "queued"


def test_results_are_stored_and_logged(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        run_id = new_run(session).id
        update_run_results(session, run_id=run_id, best_fitness=3.5, final={"seeds": [1, 2]})
    with session_factory() as session:
        run = get_run(session, run_id=run_id)
        assert run is not None and (run.best_fitness, run.final) == (3.5, {"seeds": [1, 2]})
        assert events_after(session, run_id=run_id)[-1].data == {"best_fitness": 3.5}


def test_cancel_stops_a_queued_run_at_once(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        run_id = new_run(session).id
        run = request_cancel(session, run_id=run_id)
        assert (run.status, run.cancel_requested) == ("cancelled", True)
    with session_factory.begin() as session:
        assert claim_run(session, worker_id="w", lease_seconds=30) is None


def test_cancel_of_a_running_run_asks_its_worker(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        run_id = new_run(session).id
        claim_run(session, worker_id="w", lease_seconds=30)
    with session_factory.begin() as session:
        run = request_cancel(session, run_id=run_id)
        assert (run.status, run.cancel_requested) == ("running", True)
        assert _kinds(session, run_id)[-1] == "run.cancel_requested"


def test_cancel_of_a_finished_run_is_refused(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        run_id = new_run(session).id
        set_run_status(session, run_id=run_id, status="succeeded")
    with session_factory.begin() as session:
        with pytest.raises(ConflictError, match="already succeeded; there is nothing to cancel"):
            request_cancel(session, run_id=run_id)
        run = get_run(session, run_id=run_id)
        assert run is not None and (run.status, run.cancel_requested) == ("succeeded", False)


def test_delete_takes_everything_the_run_owns(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        run_id = new_run(session).id
        other_id = new_run(session).id
        create_candidate(session, run_id=run_id, iteration_index=0, sample_index=0)
    with session_factory.begin() as session:
        assert delete_run(session, run_id=run_id) is True
        assert delete_run(session, run_id=run_id) is False
    with session_factory() as session:
        assert get_run(session, run_id=run_id) is None
        assert session.scalar(select(func.count()).select_from(Candidate)) == 0
        assert session.scalars(select(Event.run_id).distinct()).all() == [other_id]


def test_delete_refuses_a_run_a_worker_holds(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        run_id = new_run(session).id
        claim_run(session, worker_id="w", lease_seconds=60)
    with session_factory.begin() as session:
        with pytest.raises(ConflictError, match="cancel it before deleting"):
            delete_run(session, run_id=run_id)
        assert delete_run(session, run_id=run_id, force=True) is True
