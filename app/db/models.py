"""SQLAlchemy 2.0 models: runs, iterations, candidates, LLM calls, feedback, events.

The schema is created by Alembic migrations (``rewardforge db upgrade``), never
by ``create_all`` at import. JSON columns hold data whose shape belongs to other
modules (statistics, rendered prompts, evaluations).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from app.db.types import UTCDateTime

# Named constraints let migrations alter them (SQLite batch mode needs names)
# and keep names identical on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex[:12]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Run(Base):
    """One search: an env, a task, a fitness metric, budgets and LLM settings.

    status: queued -> running -> (waiting_feedback <-> running) -> finalizing
    -> succeeded | failed | cancelled.
    """

    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    env_id: Mapped[str] = mapped_column(String(128), index=True)
    card_spec: Mapped[str | None] = mapped_column(String(256))
    task: Mapped[str] = mapped_column(Text)
    fitness_metric: Mapped[str] = mapped_column(String(64))
    iterations: Mapped[int] = mapped_column(Integer)
    samples: Mapped[int] = mapped_column(Integer)
    timesteps: Mapped[int] = mapped_column(Integer)
    final_seeds: Mapped[int] = mapped_column(Integer, default=2)
    seed: Mapped[int] = mapped_column(Integer, default=0)
    # model, base_url, temperature, offline; never the key
    llm: Mapped[dict[str, Any]] = mapped_column(default=dict)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)  # algorithm, n_envs, halving...
    feedback_mode: Mapped[str] = mapped_column(String(16), default="none")  # none | wait
    feedback_timeout_s: Mapped[float] = mapped_column(Float, default=3600.0)

    status: Mapped[str] = mapped_column(String(24), default="queued", index=True)
    error: Mapped[str | None] = mapped_column(Text)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    best_candidate_id: Mapped[str | None] = mapped_column(String(32))
    best_fitness: Mapped[float | None] = mapped_column(Float)
    baseline_fitness: Mapped[float | None] = mapped_column(Float)
    sparse_fitness: Mapped[float | None] = mapped_column(Float)
    normalized_score: Mapped[float | None] = mapped_column(Float)
    # per reward source: fitness per seed, success rates, means
    final: Mapped[dict[str, Any]] = mapped_column(default=dict)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    iterations_: Mapped[list[Iteration]] = relationship(
        back_populates="run", cascade="all, delete-orphan", order_by="Iteration.index"
    )


class Iteration(Base):
    __tablename__ = "iterations"
    __table_args__ = (UniqueConstraint("run_id", "index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    index: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(24), default="proposing")
    # proposing -> training -> done | waiting_feedback
    messages: Mapped[list[Any]] = mapped_column(default=list)  # the rendered prompt, stored
    parent_candidate_id: Mapped[str | None] = mapped_column(String(32))
    # why the parent was chosen: "human pick", "preferences" or "fitness"
    parent_rule: Mapped[str | None] = mapped_column(String(32))
    best_candidate_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    run: Mapped[Run] = relationship(back_populates="iterations_")


class Candidate(Base):
    """One reward function and the policy trained on it.

    status: pending -> training -> evaluating -> done | invalid | failed | stopped
    (stopped: dropped early by successive halving; keeps its statistics).
    """

    __tablename__ = "candidates"
    __table_args__ = (UniqueConstraint("run_id", "iteration_index", "sample_index"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    iteration_index: Mapped[int] = mapped_column(Integer)
    sample_index: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16), default="search")  # search | final
    reward_source: Mapped[str] = mapped_column(String(16), default="candidate")
    seed: Mapped[int] = mapped_column(Integer, default=0)
    parent_id: Mapped[str | None] = mapped_column(String(32))

    response_text: Mapped[str | None] = mapped_column(Text)
    code: Mapped[str | None] = mapped_column(Text)
    code_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    duplicate_of: Mapped[str | None] = mapped_column(String(32))

    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    error_kind: Mapped[str | None] = mapped_column(String(32))  # extraction|validation|smoke|...
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sandbox_level: Mapped[str | None] = mapped_column(String(32))

    stats: Mapped[dict[str, Any]] = mapped_column(default=dict)  # sandbox.stats JSON
    evaluation: Mapped[dict[str, Any]] = mapped_column(default=dict)  # evaluator JSON
    fitness: Mapped[float | None] = mapped_column(Float)
    success_rate: Mapped[float | None] = mapped_column(Float)
    env_steps: Mapped[int] = mapped_column(BigInteger, default=0)
    train_seconds: Mapped[float | None] = mapped_column(Float)
    artifact_dir: Mapped[str | None] = mapped_column(String(512))

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    @property
    def halving(self) -> dict[str, Any] | None:
        """Where successive halving left it: {"rung", "rungs", "budget", "kept"}, or None."""
        info = (self.evaluation or {}).get("halving")
        return info if isinstance(info, dict) else None


class LLMCall(Base):
    """One request to the LLM (or its answer from the store of earlier ones)."""

    __tablename__ = "llm_calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str | None] = mapped_column(
        ForeignKey("runs.id", ondelete="CASCADE"), index=True
    )
    iteration_index: Mapped[int | None] = mapped_column(Integer)
    sample_index: Mapped[int | None] = mapped_column(Integer)  # the first sample it answers
    request_hash: Mapped[str] = mapped_column(String(64), index=True)
    model: Mapped[str] = mapped_column(String(128))
    request: Mapped[dict[str, Any]] = mapped_column(default=dict)
    responses: Mapped[list[Any]] = mapped_column(default=list)  # texts, one per choice
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    latency_s: Mapped[float] = mapped_column(Float, default=0.0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    cached: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text)
    # Every try: latency, and for a failed one its cause (app.llm.transport.Attempt).
    attempts: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Feedback(Base):
    """A person's word on a run: free text, a parent choice, or a comparison."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    iteration_index: Mapped[int] = mapped_column(Integer)  # the iteration it is about
    kind: Mapped[str] = mapped_column(String(16))  # text|parent|preference|tie|both_bad|continue
    candidate_id: Mapped[str | None] = mapped_column(String(32))
    # the less preferred candidate, or the second of a tie or both-bad pair
    other_candidate_id: Mapped[str | None] = mapped_column(String(32))
    text: Mapped[str | None] = mapped_column(Text)
    consumed: Mapped[bool] = mapped_column(Boolean, default=False)
    used_in_iteration: Mapped[int | None] = mapped_column(Integer)  # whose prompt carried it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Event(Base):
    """Every state change of a run, in order; streamed as server-sent events."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(48))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
