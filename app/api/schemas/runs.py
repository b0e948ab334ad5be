"""Runs: what a client sends to start one and what it reads back."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.api.schemas.candidates import CandidateSummary
from app.api.schemas.common import Page
from app.api.schemas.usage import UsageTotals
from app.run_options import MAX_ITERATIONS, RunSpec

RunStatus = Literal[
    "queued", "running", "waiting_feedback", "finalizing", "succeeded", "failed", "cancelled"
]


class RunCreate(RunSpec):
    """A new run: an env, a task in words, a trusted fitness metric and the budgets.

    The same model the CLI and the dashboard form build (app.run_options.RunSpec).
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "env_id": "Hopper-v5",
                    "task": "hop forward without falling",
                    "fitness": "forward_distance",
                    "iterations": 3,
                    "samples": 4,
                    "timesteps": 100000,
                    "llm": {"model": "gpt-4o"},
                }
            ]
        },
    )


CREATE_EXAMPLES: dict[str, dict[str, Any]] = {
    "llm": {
        "summary": "an OpenAI-compatible model",
        "value": {
            "env_id": "Hopper-v5",
            "task": "hop forward without falling",
            "fitness": "forward_distance",
            "iterations": 3,
            "samples": 4,
            "timesteps": 100000,
            "llm": {"model": "gpt-4o"},
        },
    },
    "offline": {
        "summary": "the offline proposer, card defaults",
        "value": {
            "env_id": "MountainCarContinuous-v0",
            "task": "drive up the right hill and reach the flag",
            "llm": {"offline": True},
        },
    },
    "feedback": {
        "summary": "pause after each iteration for human feedback",
        "value": {
            "env_id": "HalfCheetah-v5",
            "task": "run backwards",
            "fitness": "backward_distance",
            "iterations": 4,
            "samples": 3,
            "feedback": "wait",
            "feedback_timeout_s": 1800,
            "options": {"algorithm": "SAC", "eval_episodes": 3},
        },
    },
}


class RunExtend(BaseModel):
    """More iterations for a run that has ended."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"iterations": 2}]})

    iterations: int = Field(
        ge=1,
        le=MAX_ITERATIONS,
        description=f"how many iterations to add; a run has at most {MAX_ITERATIONS} in all",
    )


class RunProgress(BaseModel):
    iterations_done: int
    iterations_total: int
    candidates_done: int = Field(description="candidates trained, rejected or failed")
    candidates_total: int = Field(description="search candidates plus the final trainings")


class Screening(BaseModel):
    threshold: float | None = Field(description="the run's screen_min_correlation")
    screened: int = Field(description="rewards screened out before training")
    env_steps_saved: int = Field(description="the env steps they would have trained for")


class RunRead(BaseModel):
    """A run as lists show it."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    status: str
    env_id: str
    task: str
    fitness_metric: str
    iterations: int
    samples: int
    timesteps: int
    final_seeds: int
    seed: int
    llm: dict[str, Any]
    options: dict[str, Any]
    feedback_mode: str
    feedback_timeout_s: float
    error: str | None
    cancel_requested: bool
    best_candidate_id: str | None
    best_fitness: float | None
    normalized_score: float | None
    created_at: datetime
    updated_at: datetime


class RunListItem(RunRead):
    """A run as lists show it, with how far it got and what its LLM calls cost."""

    progress: RunProgress
    cost_usd: float = Field(description="LLM cost so far, USD")


class RunDetail(RunRead):
    """One run in full: results, progress, cost and the best candidate."""

    baseline_fitness: float | None = Field(description="mean fitness of the env's own reward")
    sparse_fitness: float | None = Field(description="mean fitness of the fitness as reward")
    final: dict[str, Any] = Field(description="per reward source: fitness per seed, mean")
    env_reward_is_baseline: bool = Field(
        description="whether the env's own reward is a fair human baseline for the task; "
        "when not, no human-normalised score is computed (compare with the sparse reward)"
    )
    winner_changed: bool | None = Field(
        None,
        description="whether retraining the top-k candidates on fresh seeds finalised "
        "another reward than the single-seed best; null when no reselection ran",
    )
    budget_stop: dict[str, Any] | None = Field(
        None, description="the budget that stopped the search: limit, value, used, message"
    )
    best_candidate: CandidateSummary | None
    progress: RunProgress
    screening: Screening
    cost: UsageTotals


class RunPage(Page):
    items: list[RunListItem]


class RunDeleted(BaseModel):
    id: str
    deleted: bool = True
    artifacts_removed: bool
