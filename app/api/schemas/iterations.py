"""Iterations: the prompt each round sent and what the LLM answered."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class LLMResponseRead(BaseModel):
    candidate_id: str
    sample_index: int
    status: str
    response_text: str | None = Field(description="the LLM's answer this candidate came from")


class IterationRead(BaseModel):
    index: int
    status: str
    messages: list[dict[str, Any]] = Field(
        description="the rendered prompt as chat messages, feedback and reflection included"
    )
    parent_candidate_id: str | None
    best_candidate_id: str | None
    created_at: datetime
    responses: list[LLMResponseRead]


class IterationList(BaseModel):
    items: list[IterationRead]
