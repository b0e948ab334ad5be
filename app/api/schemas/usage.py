"""LLM usage of a run: calls, tokens, cost, latency."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class UsageTotals(BaseModel):
    calls: int = Field(description="requests made, answered from the store included")
    cached_calls: int = Field(description="requests answered from stored responses")
    failed_calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    latency_s: float = Field(description="time spent waiting for the LLM, summed")
    mean_latency_s: float = Field(description="mean latency of the calls that went out")


class LLMCallRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    iteration_index: int | None
    model: str
    responses: int = Field(description="how many choices came back")
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    cost_usd: float
    cached: bool
    error: str | None
    created_at: datetime


class UsageRead(BaseModel):
    run_id: str
    totals: UsageTotals
    calls: list[LLMCallRead]
