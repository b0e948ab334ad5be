"""Candidates: one reward function each, and the policy trained on it."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

CandidateKind = Literal["search", "reselect", "final"]


class CandidateSummary(BaseModel):
    """A candidate without its code and statistics, as lists show it."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    run_id: str
    iteration_index: int
    sample_index: int
    kind: str = Field(description="search (evolved) or final (the retraining after the search)")
    reward_source: str = Field(description="candidate, env (own reward) or fitness (sparse)")
    seed: int
    parent_id: str | None
    duplicate_of: str | None = Field(description="an earlier candidate with the same code")
    status: str
    error_kind: str | None
    fitness: float | None = Field(description="trusted fitness of the trained policy")
    success_rate: float | None
    env_steps: int
    train_seconds: float | None
    sandbox_level: str | None = Field(description="the isolation the sandbox ran with")
    halving: dict[str, Any] | None = Field(
        None,
        description="successive halving's last rung for it: rung, rungs, budget (env steps) "
        "and kept (passed the cut); a stopped candidate's results are partial",
    )
    created_at: datetime
    updated_at: datetime


class CandidateLinks(BaseModel):
    video: str | None = Field(description="rollout video (video/mp4), when rendered")
    weights: str | None = Field(description="policy weights (policy.pt), when trained")
    tensorboard: str | None = Field(
        None, description="SB3's TensorBoard event files as a zip, when training wrote them"
    )


class CandidateDetail(CandidateSummary):
    """A candidate in full: code, diff against its parent, result, statistics."""

    response_text: str | None = Field(description="the LLM's whole answer")
    code: str | None
    code_hash: str | None
    diff: str | None = Field(description="unified diff of the parent's code to this code")
    error: str | None
    attempts: int
    stats: dict[str, Any] = Field(description="training statistics from the sandbox")
    evaluation: dict[str, Any] = Field(description="the trusted evaluator's report")
    links: CandidateLinks


class CandidateList(BaseModel):
    items: list[CandidateSummary]
    total: int
