"""Every API route, gathered under one router that the app mounts at /api."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from app.api.routes import (
    candidates,
    compare,
    envs,
    events,
    feedback,
    health,
    iterations,
    runs,
    statistics,
    usage,
)
from app.api.strict_json import refuse_non_json_values

api_router = APIRouter(dependencies=[Depends(refuse_non_json_values)])
for module in (
    runs,
    iterations,
    candidates,
    compare,
    statistics,
    feedback,
    events,
    usage,
    envs,
    health,
):
    api_router.include_router(module.router)
