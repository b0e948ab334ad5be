"""Wire a run to its proposer, executor and store: shared by the CLI and workers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from app.config import Settings
from app.db.run_store import RunStore
from app.evolution.loop import RunContext
from app.evolution.progress import Progress, ignore_progress
from app.execution.executor import Executor, make_executor
from app.llm import endpoints
from app.llm.offline import OfflineProposer
from app.llm.proposer import Proposer
from app.run_options import LLMOptions, RunSpec
from envs import get_card


def uses_llm(llm: LLMOptions, settings: Settings) -> bool:
    """True when the run asks for a real model; else the offline proposer runs."""
    return not llm.offline and bool(llm.model or settings.llm_model)


def make_proposer(run_id: str, spec: RunSpec, *, settings: Settings, store: RunStore) -> Proposer:
    llm = spec.llm
    if not uses_llm(llm, settings):
        card = get_card(spec.env_id, spec.card_spec)
        return OfflineProposer(
            card=card, metric=card.metric(spec.metric_name), backend=spec.options.reward_backend
        )
    # Imported here: the OpenAI SDK takes half a second to import, and offline runs
    # (the demo, most tests, every worker until a real model is asked) never use it.
    from app.llm.client import LLMClient

    base_url = llm.base_url or settings.llm_base_url
    # The server's key goes only to the server's endpoint, never to one a request named.
    same_endpoint = endpoints.same_endpoint(base_url, settings.llm_base_url)
    return LLMClient(
        model=llm.model or settings.llm_model or "",
        base_url=base_url,
        api_key=settings.resolved_llm_api_key if same_endpoint else None,
        timeout_s=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries,
        temperature=settings.llm_temperature if llm.temperature is None else llm.temperature,
        price_in_per_mtok=settings.llm_price_in_per_mtok,
        price_out_per_mtok=settings.llm_price_out_per_mtok,
        store=store.call_store(run_id),
    )


def make_context(
    *,
    settings: Settings,
    store: RunStore,
    progress: Progress = ignore_progress,
    should_cancel: Callable[[], bool] = lambda: False,
    executor: Executor | None = None,
) -> RunContext:
    return RunContext(
        store=store,
        executor=executor or make_executor(settings),
        proposer_for=lambda run_id, spec: make_proposer(
            run_id, spec, settings=settings, store=store
        ),
        artifacts=Path(settings.artifacts_dir),
        progress=progress,
        should_cancel=should_cancel,
    )
