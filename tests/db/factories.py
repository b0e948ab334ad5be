"""Small builders for database tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from app.db.models import Run
from app.db.runs import create_run


def new_run(session: Session, **overrides: Any) -> Run:
    """A queued run with tiny budgets; keyword arguments override any field."""
    fields: dict[str, Any] = {
        "env_id": "CartPole-v1",
        "task": "keep the pole upright",
        "iterations": 2,
        "samples": 3,
        "timesteps": 1000,
    }
    fields.update(overrides)
    return create_run(session, **fields)


@dataclass
class CallRecord:
    """The attributes the LLM client's call record has (the store accepts any such object)."""

    request_hash: str
    model: str = "test-model"
    request: dict[str, Any] = field(default_factory=lambda: {"messages": []})
    responses: list[str] = field(default_factory=lambda: ["def compute_reward(s, a): ..."])
    prompt_tokens: int = 100
    completion_tokens: int = 50
    latency_s: float = 1.5
    cost_usd: float = 0.002
    cached: bool = False
    error: str | None = None
