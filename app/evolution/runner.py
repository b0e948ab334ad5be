"""Wire a run to its proposer, executor and store: shared by the CLI and workers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db.models import Run
from app.db.repository import DbCallStore
from app.evolution.loop import RunContext
from app.evolution.progress import Progress, ignore_progress
from app.evolution.training import reward_backend
from app.execution.executor import Executor, make_executor
from app.llm import endpoints
from app.llm.client import LLMClient
from app.llm.offline import OfflineProposer
from app.llm.proposer import Proposer
from envs import get_card


def uses_llm(llm: dict, settings: Settings) -> bool:
    """True when the run asks for a real model; else the offline proposer runs."""
    if llm.get("offline"):
        return False
    return bool(llm.get("model") or settings.llm_model)


def make_proposer(
    run: Run, *, settings: Settings, session_factory: sessionmaker[Session]
) -> Proposer:
    llm = run.llm or {}
    if not uses_llm(llm, settings):
        card = get_card(run.env_id, run.card_spec)
        return OfflineProposer(
            card=card, metric=card.metric(run.fitness_metric), backend=reward_backend(run)
        )
    base_url = llm.get("base_url") or settings.llm_base_url
    # The server's key goes only to the server's endpoint, never to one a request named.
    same_endpoint = endpoints.same_endpoint(base_url, settings.llm_base_url)
    return LLMClient(
        model=llm.get("model") or settings.llm_model or "",
        base_url=base_url,
        api_key=settings.resolved_llm_api_key if same_endpoint else None,
        timeout_s=float(llm.get("timeout_s") or settings.llm_timeout_s),
        max_retries=settings.llm_max_retries,
        temperature=float(
            settings.llm_temperature if llm.get("temperature") is None else llm["temperature"]
        ),
        price_in_per_mtok=settings.llm_price_in_per_mtok,
        price_out_per_mtok=settings.llm_price_out_per_mtok,
        store=DbCallStore(session_factory, run_id=run.id),
    )


def make_context(
    *,
    settings: Settings,
    session_factory: sessionmaker[Session],
    progress: Progress = ignore_progress,
    should_cancel: Callable[[], bool] = lambda: False,
    executor: Executor | None = None,
) -> RunContext:
    return RunContext(
        session_factory=session_factory,
        executor=executor or make_executor(settings),
        proposer_for=lambda run: make_proposer(
            run, settings=settings, session_factory=session_factory
        ),
        artifacts=Path(settings.artifacts_dir),
        progress=progress,
        should_cancel=should_cancel,
    )
