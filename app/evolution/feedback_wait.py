"""Pause a run after an iteration until a person says continue (or time runs out)."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.db.models import Feedback, Iteration, Run
from app.db.repository import add_event, set_run_status
from app.evolution.progress import Progress

POLL_SECONDS = 0.5


def continue_given(session: Session, *, run_id: str, iteration: int) -> bool:
    return (
        session.scalars(
            select(Feedback.id).where(
                Feedback.run_id == run_id,
                Feedback.kind == "continue",
                Feedback.iteration_index == iteration,
            )
        ).first()
        is not None
    )


def _next_started(session: Session, *, run_id: str, iteration: int) -> bool:
    """A resumed run does not wait again for an iteration it already moved past."""
    return (
        session.scalars(
            select(Iteration.id).where(Iteration.run_id == run_id, Iteration.index == iteration + 1)
        ).first()
        is not None
    )


def wait_for_feedback(
    session_factory: sessionmaker[Session],
    *,
    run: Run,
    iteration: int,
    should_cancel: Callable[[], bool],
    progress: Progress,
) -> None:
    """Block until a "continue" arrives for ``iteration``, the timeout passes, or cancel."""
    with session_factory() as session:
        if continue_given(session, run_id=run.id, iteration=iteration) or _next_started(
            session, run_id=run.id, iteration=iteration
        ):
            return
        set_run_status(session, run_id=run.id, status="waiting_feedback")
        add_event(
            session,
            run_id=run.id,
            kind="feedback.waiting",
            data={"iteration": iteration, "timeout_s": run.feedback_timeout_s},
        )
        session.commit()
    progress("feedback.waiting", {"iteration": iteration})
    deadline = time.monotonic() + run.feedback_timeout_s
    reason = "timeout"
    while time.monotonic() < deadline and not should_cancel():
        with session_factory() as session:
            if continue_given(session, run_id=run.id, iteration=iteration):
                reason = "continue"
                break
        time.sleep(POLL_SECONDS)
    with session_factory() as session:
        stored = session.get(Run, run.id)
        if stored is not None and stored.status == "waiting_feedback":
            set_run_status(session, run_id=run.id, status="running")
            add_event(
                session,
                run_id=run.id,
                kind="feedback.resumed",
                data={"iteration": iteration, "reason": reason},
            )
        session.commit()
