"""Candidates compared: their curves and their code, formatting ignored."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from app.api.schemas.candidates import CandidateSummary

MAX_COMPARED = 8


class ComparedCandidate(CandidateSummary):
    task: str = Field(description="the task of the candidate's run")
    fitness_metric: str = Field(description="the metric its fitness is measured in")
    stats: dict[str, Any] = Field(description="training statistics (checkpoints, components)")
    code: str | None = Field(description="the reward code through ast.unparse (or as written)")
    code_normalized: bool = Field(description="false when the code did not parse")
    diff: str | None = Field(
        description="unified diff from the first candidate's code, formatting ignored; "
        "None for the first and for a candidate without code"
    )


class Comparison(BaseModel):
    env_id: str = Field(description="the env every compared candidate was trained on")
    items: list[ComparedCandidate]
