"""/envs: the environment catalog with state variables and fitness metrics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as PathParam

from app.api.schemas.common import error_responses
from app.api.schemas.envs import EnvCardRead, EnvList
from app.db.errors import NotFoundError
from envs import list_cards

router = APIRouter(prefix="/envs", tags=["envs"])


@router.get("", summary="List the environment catalog")
def list_() -> EnvList:
    """Every env a run can use."""
    return EnvList(items=[EnvCardRead.from_card(c) for c in list_cards()])


@router.get("/{env_id}", summary="Read an env card", responses=error_responses(404))
def get(env_id: Annotated[str, PathParam(max_length=128, examples=["Hopper-v5"])]) -> EnvCardRead:
    """One env's card: body, actions, state variables (what the reward reads), metrics."""
    for card in list_cards():
        if card.env_id == env_id:
            return EnvCardRead.from_card(card)
    known = ", ".join(sorted(c.env_id for c in list_cards()))
    raise NotFoundError(f"unknown env {env_id!r}; known envs: {known}")
