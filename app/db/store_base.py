"""What every part of the run store shares: the transaction, the result fields, and
the plain types its verbs take and hand back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from app.db.models import Candidate, Feedback

RESULT_FIELDS = (
    "stats",
    "evaluation",
    "fitness",
    "success_rate",
    "env_steps",
    "train_seconds",
    "sandbox_level",
    "artifact_dir",
)


class TrainingResult(Protocol):
    """What an executor reports for one candidate (app.execution's CandidateResult)."""

    @property
    def key(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def error(self) -> str | None: ...
    @property
    def error_kind(self) -> str | None: ...
    @property
    def stats(self) -> dict[str, Any]: ...
    @property
    def evaluation(self) -> dict[str, Any]: ...
    @property
    def fitness(self) -> float | None: ...
    @property
    def success_rate(self) -> float | None: ...
    @property
    def env_steps(self) -> int: ...
    @property
    def train_seconds(self) -> float | None: ...
    @property
    def sandbox_level(self) -> str | None: ...
    @property
    def artifact_dir(self) -> str | None: ...


@dataclass(frozen=True)
class CandidateDraft:
    """One LLM answer turned into a candidate: code that passed the gate, or an error."""

    sample_index: int
    response_text: str | None
    code: str | None = None
    code_hash: str | None = None
    status: str = "pending"  # or invalid (extraction, gate) / failed (the LLM gave nothing)
    error_kind: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class ReflectionInputs:
    """What selection and reflection read before iteration ``index``'s prompt."""

    candidates: list[Candidate]  # search candidates of the iterations before it
    unused_feedback: list[Feedback]  # not yet in any prompt, oldest first, any iteration
    preferences: list[Feedback]  # every comparison in the run: preference, tie, both bad


class StoreBase:
    """A session factory; each verb opens one transaction with ``_tx`` and commits it."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        with self.session_factory() as session:
            yield session
            session.commit()


def copy_result(row: Candidate, twin: Candidate) -> None:
    for name in RESULT_FIELDS:
        setattr(row, name, getattr(twin, name))
    row.status = twin.status
