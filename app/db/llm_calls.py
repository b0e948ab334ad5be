"""The store of LLM calls: every request with its tokens, latency, cost and tries.

Stored answers belong to a run, an iteration and a sample: a request made again
for the same run, iteration and first sample (same hash) is answered from the
earlier successful call, so a resumed run costs nothing, while a later
iteration or another run is always asked anew.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, sessionmaker

from app.db.events import add_event
from app.db.models import LLMCall
from app.db.session import session_scope


class CallRecord(Protocol):
    """What the LLM client hands to ``DbCallStore.record``."""

    request_hash: str
    model: str
    request: dict[str, Any]
    responses: list[str]
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    cost_usd: float
    cached: bool
    error: str | None
    # Optional: ``sample`` (the first sample it answers, default 0) and ``attempts``
    # (every try with its latency and cause, default none), read with getattr.


def record_llm_call(
    session: Session, *, call: CallRecord, run_id: str | None, iteration_index: int | None
) -> LLMCall:
    """Store one call (and log ``llm.call`` on its run, if it has one)."""
    attempts = list(getattr(call, "attempts", None) or [])
    row = LLMCall(
        run_id=run_id,
        iteration_index=iteration_index,
        sample_index=getattr(call, "sample", 0),
        request_hash=call.request_hash,
        model=call.model,
        request=dict(call.request),
        responses=list(call.responses),
        prompt_tokens=call.prompt_tokens,
        completion_tokens=call.completion_tokens,
        latency_s=call.latency_s,
        cost_usd=call.cost_usd,
        cached=call.cached,
        error=call.error,
        attempts=attempts,
    )
    session.add(row)
    session.flush()
    if run_id is not None:
        add_event(
            session,
            run_id=run_id,
            kind="llm.call",
            data={
                "id": row.id,
                "iteration": iteration_index,
                "sample": row.sample_index,
                "model": row.model,
                "responses": len(row.responses),
                "prompt_tokens": row.prompt_tokens,
                "completion_tokens": row.completion_tokens,
                "cost_usd": row.cost_usd,
                "latency_s": row.latency_s,
                "cached": row.cached,
                "error": row.error,
                "retries": [a.get("cause") for a in attempts if a.get("cause")],
            },
        )
    return row


def stored_responses(
    session: Session,
    *,
    request_hash: str,
    run_id: str | None,
    iteration_index: int,
    sample_index: int,
) -> list[str] | None:
    """The responses of the first successful call with this hash made for this
    run's iteration and sample (``run_id`` None: calls made outside any run)."""
    run = LLMCall.run_id.is_(None) if run_id is None else LLMCall.run_id == run_id
    query = (
        select(LLMCall.responses)
        .where(
            run,
            LLMCall.iteration_index == iteration_index,
            LLMCall.sample_index == sample_index,
            LLMCall.request_hash == request_hash,
            LLMCall.error.is_(None),
        )
        .order_by(LLMCall.id)
        .limit(1)
    )
    responses = session.scalars(query).first()
    return list(responses) if responses else None


class DbCallStore:
    """The LLM client's call store, backed by the database.

    Each method uses its own short transaction, so the client can record a
    call even when the caller's transaction later rolls back. Set
    ``iteration_index`` as the run moves on; calls are stored under it.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        run_id: str | None = None,
        iteration_index: int | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.run_id = run_id
        self.iteration_index = iteration_index

    def lookup(self, request_hash: str, *, iteration: int, sample: int) -> list[str] | None:
        """The stored responses to this request made earlier for this run's
        ``iteration`` and first ``sample``, or None."""
        with session_scope(self.session_factory) as session:
            return stored_responses(
                session,
                request_hash=request_hash,
                run_id=self.run_id,
                iteration_index=iteration,
                sample_index=sample,
            )

    def record(self, call: CallRecord) -> int:
        """Store ``call`` under this store's run and iteration; returns its row id."""
        with session_scope(self.session_factory) as session:
            row = record_llm_call(
                session,
                call=call,
                run_id=self.run_id,
                iteration_index=getattr(call, "iteration", None)
                if getattr(call, "iteration", None) is not None
                else self.iteration_index,
            )
            return row.id


def llm_usage(session: Session, *, run_id: str) -> dict[str, Any]:
    """Totals of the run's LLM calls.

    Keys: calls, cached_calls, failed_calls, prompt_tokens, completion_tokens,
    cost_usd, latency_s (summed) and mean_latency_s (over calls that went out,
    i.e. not answered from the store).
    """
    live = LLMCall.cached.is_(False)
    query = select(
        func.count(LLMCall.id),
        func.coalesce(func.sum(case((LLMCall.cached.is_(True), 1), else_=0)), 0),
        func.coalesce(func.sum(case((LLMCall.error.is_not(None), 1), else_=0)), 0),
        func.coalesce(func.sum(LLMCall.prompt_tokens), 0),
        func.coalesce(func.sum(LLMCall.completion_tokens), 0),
        func.coalesce(func.sum(LLMCall.cost_usd), 0.0),
        func.coalesce(func.sum(LLMCall.latency_s), 0.0),
        func.avg(case((live, LLMCall.latency_s), else_=None)),
    ).where(LLMCall.run_id == run_id)
    calls, cached, failed, tokens_in, tokens_out, cost, latency, mean = session.execute(query).one()
    return {
        "calls": int(calls),
        "cached_calls": int(cached),
        "failed_calls": int(failed),
        "prompt_tokens": int(tokens_in),
        "completion_tokens": int(tokens_out),
        "cost_usd": float(cost),
        "latency_s": float(latency),
        "mean_latency_s": float(mean) if mean is not None else 0.0,
    }
