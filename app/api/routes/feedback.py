"""/runs/{id}/feedback: a person's notes, parent pick and preferences for the next round."""

from __future__ import annotations

from fastapi import APIRouter, status
from pydantic import BaseModel

from app.api.deps import RequireToken, SessionDep
from app.api.feedback_service import feedback_reads, store_feedback
from app.api.queries import list_feedback
from app.api.schemas.common import RunIdPath, error_responses
from app.api.schemas.feedback import FeedbackCreate, FeedbackList, FeedbackRead
from app.db.repository import require_run

router = APIRouter(prefix="/runs/{run_id}/feedback", tags=["feedback"])


class FeedbackStored(BaseModel):
    iteration: int
    items: list[FeedbackRead]


@router.post(
    "",
    summary="Send feedback on an iteration",
    status_code=status.HTTP_201_CREATED,
    dependencies=[RequireToken],
    responses=error_responses(401, 404, 409, 413),
)
def create(run_id: RunIdPath, body: FeedbackCreate, session: SessionDep) -> FeedbackStored:
    """Feedback on an iteration: every note, pick and preference reaches the next prompt
    built after it arrived. With ``continue`` a run paused for feedback goes on."""
    run = require_run(session, run_id=run_id)
    iteration, rows = store_feedback(session, run=run, body=body)
    session.commit()
    return FeedbackStored(iteration=iteration, items=feedback_reads(session, run, rows))


@router.get("", summary="List a run's feedback", responses=error_responses(404))
def list_(run_id: RunIdPath, session: SessionDep) -> FeedbackList:
    """All feedback on the run, oldest first, each saying which prompt used it."""
    run = require_run(session, run_id=run_id)
    return FeedbackList(items=feedback_reads(session, run, list_feedback(session, run_id=run_id)))
