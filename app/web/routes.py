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
from typing import Any, get_args

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from app.api.deps import SessionDep, SettingsDep
from app.api.run_views import run_detail
from app.api.schemas.common import ID_PATTERN, MAX_TEXT_CHARS
from app.api.schemas.envs import EnvCardRead
from app.api.schemas.runs import (
    MAX_FINAL_SEEDS,
    MAX_ITERATIONS,
    MAX_SAMPLES,
    MAX_TIMESTEPS,
    MIN_TIMESTEPS,
    RunStatus,
)
from app.config import Settings
from app.db.repository import get_run, list_runs
from envs import list_cards

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
RUN_STATUSES: tuple[str, ...] = get_args(RunStatus)
ENV_ID_RE = re.compile(r"[\x21-\x7e]{1,128}")  # what the API accepts as an env id
PAGE_SIZE = 50
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
) -> HTMLResponse:
    """Every run, newest first, filtered by status and env.

    A filter value that cannot match is dropped with a notice, never a JSON error page.
    """
    notices = []
    if status and status not in RUN_STATUSES:
        notices.append(f"There is no run status {status[:40]!r}; showing every status.")
        status = None
    if env and not ENV_ID_RE.fullmatch(env):
        notices.append(f"{env[:40]!r} is not an environment id; showing every environment.")
        env = None
    items, total = list_runs(
        session, status=status or None, env_id=env or None, limit=PAGE_SIZE, offset=0
    )
    runs = [run_detail(session, run=run) for run in items]
    return _page(
        request,
        "runs.html",
        {
            "runs": runs,
            "total": total,
            "statuses": RUN_STATUSES,
            "env_ids": [card.env_id for card in list_cards()],
            "status": status or "",
            "env": env or "",
            "notices": notices,
        },
    )


@router.get("/runs/new", name="new_run_page", response_class=HTMLResponse)
def new_run_page(
    request: Request,
    settings: SettingsDep,
    env: str | None = None,
) -> HTMLResponse:
    """The form that starts a run; it posts to /api/runs and shows errors by field."""
    cards = _cards()
    chosen = next((card for card in cards if card.env_id == env), None)
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
        },
    )


@router.get("/runs/{run_id}", name="run_page", response_class=HTMLResponse)
def run_page(run_id: str, request: Request, session: SessionDep) -> HTMLResponse:
    """One run, live: evolution chart, candidates, prompts, feedback, final result."""
    run = get_run(session, run_id=run_id) if re.fullmatch(ID_PATTERN, run_id) else None
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
        },
    )


@router.get("/envs", name="envs_page", response_class=HTMLResponse)
def envs_page(request: Request) -> HTMLResponse:
    """The environment catalog: what each env is, what a reward may read, how it is scored."""
    return _page(request, "envs.html", {"cards": _cards()})


def mount_web(app: FastAPI) -> None:
    """Add the dashboard's pages and its static files (under /static) to ``app``."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
