"""/runs/{id}/usage: the run's LLM calls with tokens, cost and latency."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import SessionDep
from app.api.queries import list_llm_calls
from app.api.schemas.common import RunIdPath, error_responses
from app.api.schemas.usage import LLMCallRead, UsageRead, UsageTotals
from app.db.repository import llm_usage, require_run

router = APIRouter(prefix="/runs/{run_id}/usage", tags=["usage"])


@router.get("", summary="Read a run's LLM usage and cost", responses=error_responses(404))
def get(run_id: RunIdPath, session: SessionDep) -> UsageRead:
    """Totals and every call: answered from the store (cached) calls cost nothing."""
    require_run(session, run_id=run_id)
    calls = [
        LLMCallRead(
            id=c.id,
            iteration_index=c.iteration_index,
            model=c.model,
            responses=len(c.responses or []),
            prompt_tokens=c.prompt_tokens,
            completion_tokens=c.completion_tokens,
            latency_s=c.latency_s,
            cost_usd=c.cost_usd,
            cached=c.cached,
            error=c.error,
            created_at=c.created_at,
        )
        for c in list_llm_calls(session, run_id=run_id)
    ]
    return UsageRead(
        run_id=run_id, totals=UsageTotals(**llm_usage(session, run_id=run_id)), calls=calls
    )
