"""Training statistics downloads: one candidate's as CSV or JSON, a whole run's as CSV."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from app.api.deps import SessionDep
from app.api.schemas.common import CandidateIdPath, RunIdPath, error_responses
from app.api.stats_export import stats_csv, stats_document
from app.db.repository import list_candidates, require_candidate, require_run

router = APIRouter(tags=["candidates"])
CSV: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}}, "description": "one row per checkpoint"}
}


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


@router.get(
    "/candidates/{candidate_id}/stats.csv",
    summary="Download a candidate's training statistics (CSV)",
    response_class=Response,
    responses={**CSV, **error_responses(404)},
)
def candidate_csv(candidate_id: CandidateIdPath, session: SessionDep) -> Response:
    """Each checkpoint: env steps, episodes, mean/min/max of the training reward, the
    env's own reward, the fitness, the episode length and every reward component."""
    candidate = require_candidate(session, candidate_id=candidate_id)
    return Response(
        stats_csv([candidate]),
        media_type="text/csv",
        headers=_attachment(f"stats_{candidate_id}.csv"),
    )


@router.get(
    "/candidates/{candidate_id}/stats.json",
    summary="Download a candidate's training statistics (JSON)",
    response_class=JSONResponse,
    responses={200: {"description": "candidate, stats, evaluation"}, **error_responses(404)},
)
def candidate_json(candidate_id: CandidateIdPath, session: SessionDep) -> JSONResponse:
    """The statistics as the sandbox reported them, with the evaluation and who the
    candidate is."""
    candidate = require_candidate(session, candidate_id=candidate_id)
    return JSONResponse(
        stats_document(candidate), headers=_attachment(f"stats_{candidate_id}.json")
    )


@router.get(
    "/runs/{run_id}/stats.csv",
    summary="Download every candidate's training statistics (CSV)",
    response_class=Response,
    responses={**CSV, **error_responses(404)},
)
def run_csv(run_id: RunIdPath, session: SessionDep) -> Response:
    """The checkpoints of all the run's candidates in one table, one row each."""
    require_run(session, run_id=run_id)
    candidates = list_candidates(session, run_id=run_id)
    return Response(
        stats_csv(candidates), media_type="text/csv", headers=_attachment(f"stats_{run_id}.csv")
    )
