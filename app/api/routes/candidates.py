"""Candidates: list a run's, read one in full, its rollout video, policy weights and
TensorBoard event files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, Response
from sqlalchemy.orm import Session

from app.api.candidate_views import VIDEO_FILE, WEIGHTS_FILE, artifact_file, candidate_detail
from app.api.deps import SessionDep, SettingsDep
from app.api.schemas.candidates import (
    CandidateDetail,
    CandidateKind,
    CandidateList,
    CandidateSummary,
)
from app.api.schemas.common import CandidateIdPath, RunIdPath, error_responses
from app.api.tensorboard_export import event_files, event_zip
from app.config import Settings
from app.db.errors import NotFoundError
from app.db.repository import list_candidates, require_candidate, require_run
from app.db.states import CandidateStatus

router = APIRouter(tags=["candidates"])


@router.get(
    "/runs/{run_id}/candidates", summary="List a run's candidates", responses=error_responses(404)
)
def list_(
    run_id: RunIdPath,
    session: SessionDep,
    iteration: Annotated[int | None, Query(ge=0, le=10_000)] = None,
    status: Annotated[CandidateStatus | None, Query()] = None,
    kind: Annotated[CandidateKind | None, Query()] = None,
) -> CandidateList:
    """The run's candidates by iteration and sample, optionally filtered."""
    require_run(session, run_id=run_id)
    rows = list_candidates(
        session, run_id=run_id, iteration_index=iteration, status=status, kind=kind
    )
    return CandidateList(items=[CandidateSummary.model_validate(c) for c in rows], total=len(rows))


@router.get(
    "/candidates/{candidate_id}", summary="Read a candidate", responses=error_responses(404)
)
def get(
    candidate_id: CandidateIdPath, request: Request, session: SessionDep, settings: SettingsDep
) -> CandidateDetail:
    """Code, diff against the parent, validation or training error, statistics, fitness."""
    candidate = require_candidate(session, candidate_id=candidate_id)
    return candidate_detail(
        session,
        candidate=candidate,
        artifacts_dir=settings.artifacts_dir,
        video_url=request.url_for("candidate_video", candidate_id=candidate_id).path,
        weights_url=request.url_for("candidate_weights", candidate_id=candidate_id).path,
        tensorboard_url=request.url_for("candidate_tensorboard", candidate_id=candidate_id).path,
    )


def _artifact(session: Session, settings: Settings, candidate_id: str, name: str) -> Path:
    candidate = require_candidate(session, candidate_id=candidate_id)
    path = artifact_file(candidate, name, artifacts_dir=settings.artifacts_dir)
    if path is None:
        raise NotFoundError(f"candidate {candidate_id} has no {name} (status {candidate.status})")
    return path


@router.get(
    "/candidates/{candidate_id}/video",
    name="candidate_video",
    summary="Download a candidate's rollout video",
    response_class=FileResponse,
    responses={
        200: {"content": {"video/mp4": {}}, "description": "the rollout video"},
        **error_responses(404),
    },
)
def video(
    candidate_id: CandidateIdPath, session: SessionDep, settings: SettingsDep
) -> FileResponse:
    """The evaluator's rollout video (MP4); Range requests are served for seeking."""
    path = _artifact(session, settings, candidate_id, VIDEO_FILE)
    return FileResponse(path, media_type="video/mp4")


@router.get(
    "/candidates/{candidate_id}/weights",
    name="candidate_weights",
    summary="Download a candidate's policy weights",
    response_class=FileResponse,
    responses={
        200: {
            "content": {"application/octet-stream": {}},
            "description": "policy weights, a torch state dict of tensors",
        },
        **error_responses(404),
    },
)
def weights(
    candidate_id: CandidateIdPath, session: SessionDep, settings: SettingsDep
) -> FileResponse:
    """The trained policy's weights (load with ``torch.load(..., weights_only=True)``)."""
    path = _artifact(session, settings, candidate_id, WEIGHTS_FILE)
    return FileResponse(
        path, media_type="application/octet-stream", filename=f"policy_{candidate_id}.pt"
    )


@router.get(
    "/candidates/{candidate_id}/tensorboard",
    name="candidate_tensorboard",
    summary="Download a candidate's TensorBoard event files",
    response_class=Response,
    responses={
        200: {"content": {"application/zip": {}}, "description": "the event files, zipped"},
        **error_responses(404),
    },
)
def tensorboard(
    candidate_id: CandidateIdPath, session: SessionDep, settings: SettingsDep
) -> Response:
    """SB3's TensorBoard logs of the training (its losses, the reward's components and
    the fitness at each checkpoint) as a zip: unpack it and run ``tensorboard --logdir``."""
    candidate = require_candidate(session, candidate_id=candidate_id)
    files = event_files(candidate, artifacts_dir=settings.artifacts_dir)
    if not files:
        raise NotFoundError(f"candidate {candidate_id} has no TensorBoard event files")
    try:
        content = event_zip(candidate_id, files)
    except ValueError as error:
        raise NotFoundError(f"candidate {candidate_id}: {error}") from error
    disposition = f'attachment; filename="tensorboard_{candidate_id}.zip"'
    return Response(
        content, media_type="application/zip", headers={"Content-Disposition": disposition}
    )
