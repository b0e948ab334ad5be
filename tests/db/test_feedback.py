"""Human feedback: validated on the way in, pending until a prompt consumes it."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from app.db.candidates import create_candidate
from app.db.errors import NotFoundError
from app.db.events import events_after
from app.db.feedback import add_feedback, mark_consumed, pending_feedback
from tests.db.factories import new_run


def test_feedback_is_pending_until_consumed(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        run_id = new_run(session).id
        a = create_candidate(session, run_id=run_id, iteration_index=0, sample_index=0).id
        b = create_candidate(session, run_id=run_id, iteration_index=0, sample_index=1).id
        text = add_feedback(session, run_id=run_id, iteration_index=0, kind="text",
                            text="it hops instead of running")  # fmt: skip
        preference = add_feedback(session, run_id=run_id, iteration_index=0, kind="preference",
                                  candidate_id=b, other_candidate_id=a)  # fmt: skip
        later = add_feedback(session, run_id=run_id, iteration_index=1, kind="parent",
                             candidate_id=a)  # fmt: skip
    with session_factory.begin() as session:
        pending = pending_feedback(session, run_id=run_id, iteration_index=0)
        assert [f.id for f in pending] == [text.id, preference.id]
        assert (
            mark_consumed(session, run_id=run_id, feedback_ids=[f.id for f in pending], iteration=1)
            == 2
        )
        assert mark_consumed(session, run_id=run_id, feedback_ids=[text.id], iteration=1) == 0
    with session_factory() as session:
        assert pending_feedback(session, run_id=run_id, iteration_index=0) == []
        assert [f.id for f in pending_feedback(session, run_id=run_id)] == [later.id]
        kinds = [e.kind for e in events_after(session, run_id=run_id)]
        assert kinds.count("feedback.added") == 3 and kinds[-1] == "feedback.consumed"


def test_late_feedback_on_an_earlier_iteration_is_still_pending(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        run_id = new_run(session).id
        early = add_feedback(session, run_id=run_id, iteration_index=0, kind="text", text="slower")
    with session_factory() as session:
        assert [f.id for f in pending_feedback(session, run_id=run_id, iteration_index=2)] == [
            early.id
        ]


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        ({"kind": "shout"}, ValueError, "unknown feedback kind"),
        ({"kind": "text", "text": "  "}, ValueError, "needs non-empty text"),
        ({"kind": "parent"}, ValueError, "candidate_id is required"),
        ({"kind": "parent", "candidate_id": "nope"}, NotFoundError, "has no candidate 'nope'"),
        ({"kind": "preference", "candidate_id": "SELF", "other_candidate_id": "SELF"},
         ValueError, "two different candidates"),
    ],
)  # fmt: skip
def test_bad_feedback_is_refused_with_a_clear_message(
    session_factory: sessionmaker[Session], fields: dict, error: type, message: str
) -> None:
    with session_factory() as session:
        run_id = new_run(session).id
        own = create_candidate(session, run_id=run_id, iteration_index=0, sample_index=0).id
        fields = {k: own if v == "SELF" else v for k, v in fields.items()}
        with pytest.raises(error, match=message):
            add_feedback(session, run_id=run_id, iteration_index=0, **fields)


def test_feedback_on_a_candidate_of_another_run_is_refused(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session:
        run_id, other_run = new_run(session).id, new_run(session).id
        foreign = create_candidate(session, run_id=other_run, iteration_index=0, sample_index=0)
        with pytest.raises(NotFoundError, match=f"run {run_id} has no candidate"):
            add_feedback(session, run_id=run_id, iteration_index=0, kind="parent",
                         candidate_id=foreign.id)  # fmt: skip
