"""/health (the process answers) and /ready (database at head, workers working)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from app.api.readiness import check_readiness
from app.api.schemas.health import Health, Readiness

router = APIRouter(tags=["health"])


@router.get("/health", summary="Check liveness")
def health() -> Health:
    """Liveness: the process is up."""
    return Health()


@router.get(
    "/ready",
    summary="Check readiness",
    responses={503: {"model": Readiness, "description": "not ready"}},
)
def ready(request: Request, response: Response) -> Readiness:
    """Readiness: the database answers, its schema is at the newest migration and the
    workers of this process (if it runs any) are working."""
    state = request.app.state
    result = check_readiness(state.engine, head=state.migration_head, workers=state.workers)
    if result.status != "ready":
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return result
