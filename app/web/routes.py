"""The dashboard's pages: runs list, new run form, run page, env catalog.

Pages are rendered on the server from the same view functions the REST API
uses; the browser then reads and changes everything through ``/api`` (the run
page follows ``/api/runs/{id}/events`` live). Every script and stylesheet is
served from ``static/``, so the dashboard works on a machine without internet.
"""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated, Any, get_args

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from app.api.deps import SessionDep, SettingsDep
from app.api.run_views import run_detail
from app.api.schemas.common import ID_PATTERN, MAX_TEXT_CHARS
from app.api.schemas.envs import EnvCardRead
from app.api.schemas.runs import RunStatus
from app.config import Settings
from app.db.models import Run
from app.db.repository import get_run, list_runs
from app.run_options import (
    MAX_FINAL_SEEDS,
    MAX_ITERATIONS,
    MAX_N_ENVS,
    MAX_SAMPLES,
    MAX_TIMESTEPS,
    MIN_TIMESTEPS,
)
from app.web.runs_list import COLUMNS, PAGE_SIZE, RunsQuery, duration, pages
from envs import list_cards
from sandbox.batched import MAX_BATCHED_ENVS

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
RUN_STATUSES: tuple[str, ...] = get_args(RunStatus)
ID_RE = re.compile(ID_PATTERN)
# Only files from this server: the vendored libraries included. Media comes from /api.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
LIMITS = {
    "iterations": MAX_ITERATIONS,
    "samples": MAX_SAMPLES,
    "min_timesteps": MIN_TIMESTEPS,
    "max_timesteps": MAX_TIMESTEPS,
    "final_seeds": MAX_FINAL_SEEDS,
    "task_chars": MAX_TEXT_CHARS,
    "n_envs": MAX_N_ENVS,
    "batched_envs": MAX_BATCHED_ENVS,
}

router = APIRouter(tags=["dashboard"], include_in_schema=False)
templates = Jinja2Templates(directory=HERE / "templates")


def _asset_version() -> str:
    # Appended to static URLs so a new release is never served stale from a cache.
    try:
        return version("rewardforge")
    except PackageNotFoundError:
        return "dev"


templates.env.globals["asset_version"] = _asset_version()


def _page(
    request: Request, name: str, context: dict[str, Any], *, status_code: int = 200
) -> HTMLResponse:
    base = {"token_required": bool(request.app.state.token_hashes)}
    response = templates.TemplateResponse(
        request, name, {**base, **context}, status_code=status_code
    )
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _cards() -> list[EnvCardRead]:
    return [EnvCardRead.from_card(card) for card in list_cards()]


def _llm_defaults(settings: Settings) -> dict[str, Any]:
    """What the server would use when the form leaves the LLM fields empty (never the key)."""
    return {
        "model": settings.llm_model,
        "base_url": settings.llm_base_url,
        "temperature": settings.llm_temperature,
        "key_configured": bool(settings.resolved_llm_api_key),
    }


@router.get("/", name="runs_page", response_class=HTMLResponse)
def runs_page(
    request: Request,
    session: SessionDep,
    status: str | None = None,
    env: str | None = None,
    q: str | None = None,
    sort: str | None = None,
    order: str | None = None,
    page: str | None = None,
) -> HTMLResponse:
    """Runs, newest first or sorted by any column, filtered by status, env and a
    search of the tasks, fifty to a page.

    A filter value that cannot match is dropped with a notice, never a JSON error page.
    """
    given = {"status": status, "env": env, "q": q, "sort": sort, "order": order, "page": page}
    query = RunsQuery.parse(given, statuses=RUN_STATUSES)
    items, total = list_runs(
        session,
        status=query.status or None,
        env_id=query.env or None,
        search=query.q or None,
        sort=query.sort,
        descending=query.descending,
        limit=PAGE_SIZE,
        offset=query.offset,
    )
    runs = [run_detail(session, run=run) for run in items]
    return _page(
        request,
        "runs.html",
        {
            "runs": runs,
            "durations": {r.id: duration(r.status, r.created_at, r.updated_at) for r in runs},
            "total": total,
            "pages": pages(total),
            "page_size": PAGE_SIZE,
            "query": query,
            "columns": COLUMNS,
            "statuses": RUN_STATUSES,
            "env_ids": [card.env_id for card in list_cards()],
            "notices": query.notices,
        },
    )


@router.get("/runs/new", name="new_run_page", response_class=HTMLResponse)
def new_run_page(
    request: Request,
    settings: SettingsDep,
    session: SessionDep,
    env: str | None = None,
    from_run: Annotated[str | None, Query(alias="from")] = None,
) -> HTMLResponse:
    """The form that starts a run; it posts to /api/runs and shows errors by field.

    ``?from=<run id>`` fills it with that run's task, budgets and options.
    """
    cards = _cards()
    source = get_run(session, run_id=from_run) if from_run and ID_RE.fullmatch(from_run) else None
    if source is not None:
        env = source.env_id
    chosen = next((card for card in cards if card.env_id == env), None)
    notices = []
    if from_run and source is None:
        notices.append(f"There is no run with id {from_run[:40]!r} to start from.")
    return _page(
        request,
        "run_new.html",
        {
            "cards": cards,
            "chosen": chosen,
            # What the form's script needs when an env is picked.
            "env_defaults": {
                card.env_id: {
                    "metrics": [m.model_dump() for m in card.fitness_metrics],
                    "training": card.training.model_dump(),
                }
                for card in cards
            },
            "llm": _llm_defaults(settings),
            "limits": LIMITS,
            "source": source,
            "prefill": _prefill(source) if source is not None else None,
            "notices": notices,
        },
    )


def _prefill(run: Run) -> dict[str, Any]:
    """The form's fields as ``run`` was started: names as the form's inputs have them."""
    fields: dict[str, Any] = {
        "env_id": run.env_id,
        "task": run.task,
        "fitness": run.fitness_metric,
        "iterations": run.iterations,
        "samples": run.samples,
        "timesteps": run.timesteps,
        "final_seeds": run.final_seeds,
        "seed": run.seed,
        "feedback": run.feedback_mode,
        "feedback_timeout_s": run.feedback_timeout_s,
    }
    for group in ("llm", "options"):
        for name, value in (getattr(run, group) or {}).items():
            if value is not None and not isinstance(value, dict | list):
                fields[f"{group}.{name}"] = value
    return fields


@router.get("/runs/{run_id}", name="run_page", response_class=HTMLResponse)
def run_page(run_id: str, request: Request, session: SessionDep) -> HTMLResponse:
    """One run, live: evolution chart, candidates, prompts, feedback, final result."""
    run = get_run(session, run_id=run_id) if ID_RE.fullmatch(run_id) else None
    if run is None:
        return _page(
            request,
            "not_found.html",
            {"message": f"There is no run with id {run_id!r}."},
            status_code=404,
        )
    detail = run_detail(session, run=run)
    card = next((c for c in _cards() if c.env_id == run.env_id), None)
    metric = None
    if card is not None:
        metric = next((m for m in card.fitness_metrics if m.name == run.fitness_metric), None)
    return _page(
        request,
        "run.html",
        {
            "run": detail,
            "page_data": {
                "run": detail.model_dump(mode="json"),
                "metric": metric.model_dump() if metric else None,
            },
            "metric": metric,
            "max_iterations": MAX_ITERATIONS,
        },
    )


@router.get("/compare", name="compare_page", response_class=HTMLResponse)
def compare_page(
    request: Request,
    candidate: Annotated[list[str], Query()] = [],  # noqa: B006 (FastAPI copies defaults)
    run: Annotated[str | None, Query()] = None,
) -> HTMLResponse:
    """Two or more candidates, of one run or several on the same env: curves overlaid,
    code diffed with formatting ignored."""
    chosen = [c for c in dict.fromkeys(candidate) if ID_RE.fullmatch(c)][:8]
    start_run = run if run and ID_RE.fullmatch(run) else None
    return _page(request, "compare.html", {"page_data": {"candidates": chosen, "run": start_run}})


@router.get("/envs", name="envs_page", response_class=HTMLResponse)
def envs_page(request: Request) -> HTMLResponse:
    """The environment catalog: what each env is, what a reward may read, how it is scored."""
    return _page(request, "envs.html", {"cards": _cards()})


def mount_web(app: FastAPI) -> None:
    """Add the dashboard's pages and its static files (under /static) to ``app``."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
