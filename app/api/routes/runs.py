"""/runs: create, list, read, cancel, resume, extend, delete, export."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Request, Response, status
from fastapi.responses import PlainTextResponse

from app.api.deps import RequireToken, SessionDep, SettingsDep
from app.api.run_requests import new_run_spec
from app.api.run_views import (
    more_iterations,
    remove_artifacts,
    resume_run,
    run_detail,
    run_list_items,
)
from app.api.schemas.common import MAX_OFFSET, MAX_PAGE, RunIdPath, error_responses
from app.api.schemas.runs import (
    CREATE_EXAMPLES,
    RunCreate,
    RunDeleted,
    RunDetail,
    RunExtend,
    RunPage,
    RunStatus,
)
from app.db.candidates import best_candidate
from app.db.errors import ConflictError, NotFoundError
from app.db.repository import create_run, delete_run, list_runs, request_cancel, require_run
from app.evolution.export import export_module

router = APIRouter(prefix="/runs", tags=["runs"])
MUTATING_ERRORS = error_responses(401, 404, 409)


@router.post(
    "",
    summary="Start a run",
    status_code=status.HTTP_201_CREATED,
    dependencies=[RequireToken],
    responses=error_responses(401, 413),
)
def create(
    body: Annotated[RunCreate, Body(openapi_examples=CREATE_EXAMPLES)],
    session: SessionDep,
    settings: SettingsDep,
    request: Request,
    response: Response,
) -> RunDetail:
    """Queue a new run; a worker picks it up. The LLM API key comes from the server's settings."""
    run = create_run(session, new_run_spec(body, settings=settings))
    session.commit()
    response.headers["Location"] = request.url_for("get_run", run_id=run.id).path
    return run_detail(session, run=run)


@router.get("", summary="List runs")
def list_(
    session: SessionDep,
    status_: Annotated[RunStatus | None, Query(alias="status")] = None,
    env_id: Annotated[str | None, Query(pattern=r"^[\x21-\x7e]{1,128}$")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> RunPage:
    """Runs, newest first, optionally only one status or env."""
    items, total = list_runs(session, status=status_, env_id=env_id, limit=limit, offset=offset)
    return RunPage(
        items=run_list_items(session, list(items)),
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get("/{run_id}", name="get_run", summary="Read a run", responses=error_responses(404))
def get(run_id: RunIdPath, session: SessionDep) -> RunDetail:
    """Status, best candidate, fitness against the baselines, progress and LLM cost."""
    return run_detail(session, run=require_run(session, run_id=run_id))


@router.post(
    "/{run_id}/cancel",
    summary="Cancel a run",
    dependencies=[RequireToken],
    responses=MUTATING_ERRORS,
)
def cancel(run_id: RunIdPath, session: SessionDep) -> RunDetail:
    """Stop the run: a queued run is cancelled at once, a running one within seconds.

    A run that has already finished (succeeded, failed or cancelled) answers 409.
    """
    run = request_cancel(session, run_id=run_id)
    session.commit()
    return run_detail(session, run=run)


@router.post(
    "/{run_id}/resume",
    summary="Resume a failed or cancelled run",
    dependencies=[RequireToken],
    responses=MUTATING_ERRORS,
)
def resume(run_id: RunIdPath, session: SessionDep) -> RunDetail:
    """Queue a failed or cancelled run again; it continues at its first unfinished candidate."""
    run = resume_run(session, run_id=run_id)
    session.commit()
    return run_detail(session, run=run)


@router.post(
    "/{run_id}/extend",
    summary="Run more iterations of a run that has ended",
    dependencies=[RequireToken],
    responses=error_responses(401, 404, 409, 413),
)
def extend(run_id: RunIdPath, body: RunExtend, session: SessionDep) -> RunDetail:
    """Queue a succeeded, failed or cancelled run again with more iterations.

    The search goes on at the next iteration, whose prompt carries the feedback no
    prompt has used yet; then the final evaluation runs again over the whole search.
    The one it replaces is kept in the ``run.extended`` event. A run still going, or
    one a budget stopped, answers 409; a total over the maximum iterations, 422.
    """
    run = more_iterations(session, run_id=run_id, more=body.iterations)
    session.commit()
    return run_detail(session, run=run)


@router.delete(
    "/{run_id}",
    summary="Delete a run and its artifacts",
    dependencies=[RequireToken],
    responses=MUTATING_ERRORS,
)
def delete(run_id: RunIdPath, session: SessionDep, settings: SettingsDep) -> RunDeleted:
    """Delete the run, its rows and its artifacts; a run being worked on must be cancelled first."""
    if not delete_run(session, run_id=run_id):
        raise NotFoundError(f"no run with id {run_id!r}")
    session.commit()
    removed = remove_artifacts(settings.artifacts_dir, run_id=run_id)
    return RunDeleted(id=run_id, artifacts_removed=removed)


class PythonModuleResponse(PlainTextResponse):
    media_type = "text/x-python"


@router.get(
    "/{run_id}/export",
    summary="Export the best reward as a Python module",
    response_class=PythonModuleResponse,
    responses={200: {"description": "a Python module"}, **error_responses(404, 409)},
)
def export(run_id: RunIdPath, session: SessionDep) -> PythonModuleResponse:
    """The best reward function as a standalone Python module."""
    run = require_run(session, run_id=run_id)
    if not run.best_candidate_id:
        raise ConflictError(f"run {run_id} has no best candidate yet (status {run.status})")
    try:
        text = export_module(run, best_candidate(session, run))
    except (KeyError, ValueError) as exc:
        raise ConflictError(str(exc.args[0] if exc.args else exc)) from None
    disposition = f'attachment; filename="reward_{run_id}.py"'
    return PythonModuleResponse(text, headers={"Content-Disposition": disposition})
