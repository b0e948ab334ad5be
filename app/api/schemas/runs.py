"""Runs: what a client sends to start one and what it reads back."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from app.api.schemas.candidates import CandidateSummary
from app.api.schemas.common import Page, PlainText
from app.api.schemas.usage import UsageTotals
from sandbox.spec import DEVICE_PATTERN

# Budgets one request may ask for; the per-run cap bounds the product, which is
# what actually costs CPU hours.
MAX_ITERATIONS = 50
MAX_SAMPLES = 64
MIN_TIMESTEPS = 1_000
MAX_TIMESTEPS = 10_000_000
MAX_FINAL_SEEDS = 20
MAX_RUN_ENV_STEPS = 500_000_000  # card defaults fit: 29 trainings x 10M (Humanoid)
FINAL_SOURCES = 3  # the best reward, the env's own reward, the fitness as reward

API_KEY_REFUSED = (
    "API keys are never accepted in requests (they would be stored with the run); "
    "configure REWARDFORGE_LLM_API_KEY on the server instead"
)

RunStatus = Literal[
    "queued", "running", "waiting_feedback", "finalizing", "succeeded", "failed", "cancelled"
]
EnvId = Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,128}$")]
MetricName = Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,64}$")]


def refuse_api_key(data: Any) -> Any:
    """Refuse input with a field named like a key, saying where keys are configured."""
    if isinstance(data, dict) and any("key" in str(name).lower() for name in data):
        raise ValueError(API_KEY_REFUSED)
    return data


class LLMOptions(BaseModel):
    """Which LLM writes the rewards. The API key always comes from the server's settings."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"model": "gpt-4o", "temperature": 1.0}, {"offline": True}]
        },
    )

    model: Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,128}$")] | None = Field(
        None, description="model name; default REWARDFORGE_LLM_MODEL, none -> offline proposer"
    )
    base_url: Annotated[str, StringConstraints(pattern=r"^https?://[\x21-\x7e]{1,500}$")] | None = (
        Field(None, description="an OpenAI-compatible endpoint; default REWARDFORGE_LLM_BASE_URL")
    )
    temperature: float | None = Field(None, ge=0.0, le=2.0, description="sampling temperature")
    offline: bool = Field(False, description="use the built-in offline proposer, no LLM")

    @model_validator(mode="before")
    @classmethod
    def _no_api_key(cls, data: Any) -> Any:
        return refuse_api_key(data)


class TrainingOptions(BaseModel):
    """Overrides of the env card's training defaults."""

    model_config = ConfigDict(extra="forbid")

    algorithm: Literal["PPO", "SAC"] | None = Field(None, description="default: the card's")
    n_envs: int | None = Field(None, ge=1, le=64, description="parallel envs per candidate")
    device: str | None = Field(
        None,
        max_length=8,
        description="auto, cpu or cuda[:N]: torch device of the policy (and of torch "
        "rewards); null: auto, CUDA where the sandbox sees a GPU",
    )
    reward_backend: Literal["numpy", "torch"] = Field(
        "numpy", description="what reward code computes with: numpy arrays or torch tensors"
    )
    eval_episodes: int = Field(5, ge=1, le=100, description="evaluation episodes per policy")
    video: bool = Field(True, description="render a rollout video of every trained policy")
    halving: bool | None = Field(
        None, description="successive halving within an iteration; null: on when samples >= 4"
    )
    halving_rungs: list[float] | None = Field(
        None, max_length=8, description="budget fractions of the rungs, ending at 1.0"
    )
    halving_keep: float | None = Field(None, gt=0, lt=1, description="fraction kept per cut")

    @field_validator("device")
    @classmethod
    def _known_device(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(DEVICE_PATTERN, value):
            raise ValueError(f"device must be auto, cpu or cuda[:N], not {value!r}")
        return value


class RunCreate(BaseModel):
    """A new run: an env, a task in words, a trusted fitness metric and the budgets."""

    model_config = ConfigDict(
        extra="forbid",
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

    env_id: EnvId = Field(description="an env of the catalog (GET /api/envs)")
    task: PlainText = Field(description="what the agent should do, in words")
    fitness: MetricName | None = Field(
        None, description="trusted fitness metric of the env; default: the card's first"
    )
    iterations: int = Field(5, ge=1, le=MAX_ITERATIONS, description="rounds of evolution")
    samples: int = Field(4, ge=1, le=MAX_SAMPLES, description="candidates per iteration")
    timesteps: int | None = Field(
        None,
        ge=MIN_TIMESTEPS,
        le=MAX_TIMESTEPS,
        description="env steps per candidate; default: the card's",
    )
    final_seeds: int = Field(
        3, ge=0, le=MAX_FINAL_SEEDS, description="seeds of the final test; 0 skips it"
    )
    seed: int = Field(0, ge=0, le=2**31 - 1)
    card_spec: str | None = Field(
        None, description="not accepted over HTTP: install custom cards as entry points"
    )
    llm: LLMOptions = Field(default_factory=LLMOptions)
    feedback: Literal["none", "wait"] = Field(
        "none", description="'wait': pause after each iteration for POST .../feedback"
    )
    feedback_timeout_s: float = Field(
        3600.0, ge=1.0, le=7 * 86400.0, description="how long a waiting run waits"
    )
    options: TrainingOptions = Field(default_factory=TrainingOptions)

    @model_validator(mode="before")
    @classmethod
    def _no_api_key(cls, data: Any) -> Any:
        return refuse_api_key(data)


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


class RunProgress(BaseModel):
    iterations_done: int
    iterations_total: int
    candidates_done: int = Field(description="candidates trained, rejected or failed")
    candidates_total: int = Field(description="search candidates plus the final trainings")


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
    best_candidate: CandidateSummary | None
    progress: RunProgress
    cost: UsageTotals


class RunPage(Page):
    items: list[RunListItem]


class RunDeleted(BaseModel):
    id: str
    deleted: bool = True
    artifacts_removed: bool
