"""Every API route, gathered under one router that the app mounts at /api."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.routes import candidates, envs, events, feedback, health, iterations, runs, usage

api_router = APIRouter()
for module in (runs, iterations, candidates, feedback, events, usage, envs, health):
    api_router.include_router(module.router)
