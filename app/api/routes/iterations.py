"""/runs/{id}/iterations: the prompts each round sent and the LLM's answers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as PathParam
from sqlalchemy.orm import Session

from app.api.deps import SessionDep
from app.api.schemas.common import RunIdPath, error_responses
from app.api.schemas.iterations import IterationList, IterationRead, LLMResponseRead
from app.db.errors import NotFoundError
from app.db.models import Iteration
from app.db.repository import get_iteration, list_candidates, list_iterations, require_run

router = APIRouter(prefix="/runs/{run_id}/iterations", tags=["iterations"])


def _read(session: Session, iteration: Iteration) -> IterationRead:
    candidates = list_candidates(
        session, run_id=iteration.run_id, iteration_index=iteration.index, kind="search"
    )
    return IterationRead(
        index=iteration.index,
        status=iteration.status,
        messages=list(iteration.messages or []),
        parent_candidate_id=iteration.parent_candidate_id,
        best_candidate_id=iteration.best_candidate_id,
        created_at=iteration.created_at,
        responses=[
            LLMResponseRead(
                candidate_id=c.id,
                sample_index=c.sample_index,
                status=c.status,
                response_text=c.response_text,
            )
            for c in candidates
        ],
    )


@router.get("", summary="List a run's iterations", responses=error_responses(404))
def list_(run_id: RunIdPath, session: SessionDep) -> IterationList:
    """Every iteration of the run with its stored prompt and the LLM's responses."""
    require_run(session, run_id=run_id)
    return IterationList(
        items=[_read(session, it) for it in list_iterations(session, run_id=run_id)]
    )


@router.get(
    "/{index}", summary="Read an iteration's prompt and responses", responses=error_responses(404)
)
def get(
    run_id: RunIdPath,
    index: Annotated[int, PathParam(ge=0, le=10_000, description="0 is the first iteration")],
    session: SessionDep,
) -> IterationRead:
    """One iteration: the rendered prompt (with reflection and feedback) and the responses."""
    require_run(session, run_id=run_id)
    iteration = get_iteration(session, run_id=run_id, index=index)
    if iteration is None:
        raise NotFoundError(f"run {run_id} has no iteration {index} (yet)")
    return _read(session, iteration)
