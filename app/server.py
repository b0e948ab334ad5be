"""The ASGI application: the REST API under /api (the dashboard joins under /).

``uvicorn --factory app.server:create_app`` serves it with the settings from
the environment; tests and ``rewardforge serve`` pass their own Settings.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from importlib.metadata import PackageNotFoundError, version

import anyio
from fastapi import FastAPI
from fastapi.routing import APIRoute

from app.api.body_limit import DEFAULT_MAX_BODY_BYTES, BodySizeLimitMiddleware
from app.api.deps import token_hashes
from app.api.errors import install_error_handlers
from app.api.event_stream import EventHub
from app.api.loop_stalls import LoopStallMonitor
from app.api.readiness import WorkerState, migration_head
from app.api.router import api_router
from app.api.same_origin import SameOriginMiddleware, allowed_hosts
from app.config import Settings, get_settings
from app.db.session import make_engine, make_session_factory, pool_options
from app.web.docs import router as docs_router
from app.web.routes import mount_web

API_PREFIX = "/api"
POOL_THREADS = 4
DESCRIPTION = """\
rewardforge turns a sentence into a reward function: an LLM writes candidate
reward code, each candidate trains a policy in a sandbox, a trusted evaluator
scores it, and the best candidates and your feedback go into the next round.

The server answers only to loopback host names and those in
`REWARDFORGE_ALLOWED_HOSTS`; it refuses changes coming from other sites'
pages (`Origin`/`Referer`) and request bodies that are not JSON.

Mutating routes need `Authorization: Bearer <token>` when the server has
`REWARDFORGE_API_TOKEN` set. LLM API keys are configured on the server
(`REWARDFORGE_LLM_API_KEY`) and never sent in requests.
"""
TAGS = [
    {"name": "runs", "description": "Create, follow, cancel, resume and delete runs."},
    {"name": "iterations", "description": "Each round's rendered prompt and LLM responses."},
    {"name": "candidates", "description": "Reward code, results, videos and weights."},
    {"name": "feedback", "description": "Notes, parent picks and preferences for the next round."},
    {"name": "events", "description": "A run's state changes as server-sent events."},
    {"name": "usage", "description": "LLM calls, tokens, cost and latency per run."},
    {"name": "envs", "description": "The environment catalog."},
    {"name": "health", "description": "Liveness and readiness."},
]


def _operation_id(route: APIRoute) -> str:
    # "runs_create", "candidates_get": stable names for generated clients.
    return f"{route.tags[0]}_{route.name.rstrip('_')}"


def _version() -> str:
    try:
        return version("rewardforge")
    except PackageNotFoundError:
        return "0.0.0"


def create_app(
    settings: Settings | None = None,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    workers: Sequence[WorkerState] = (),
) -> FastAPI:
    """The API app on ``settings`` (default: from the environment and .env).

    The database must already be migrated (``rewardforge db upgrade``); /api/ready
    says whether it is, and whether the ``workers`` running in this process work.
    Bearer tokens are kept only as SHA-256 hashes.
    """
    settings = settings or get_settings()
    url = settings.resolved_database_url
    engine = make_engine(url, **pool_options(settings, url))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The event streams' pollers live as long as the app.
        # Sync routes run in anyio's worker threads. Dozens of threads at once only take
        # turns at the GIL in no fair order, so a few requests wait far longer than the
        # rest; a few threads serve the same load in arrival order.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.api_threads
        async with AsyncExitStack() as stack:
            if settings.loop_stall_warning_ms > 0:
                monitor = LoopStallMonitor(settings.loop_stall_warning_ms / 1000)
                app.state.loop_stalls = await stack.enter_async_context(monitor.running())
            async with anyio.create_task_group() as tasks:
                app.state.event_hub = EventHub(app.state.session_factory, tasks)
                yield
                tasks.cancel_scope.cancel()
        engine.dispose()

    app = FastAPI(
        title="rewardforge",
        version=_version(),
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # /docs and /redoc: app.web.docs, from vendored files
        redoc_url=None,
    )
    app.state.token_hashes = token_hashes(settings.api_token)
    app.state.settings = settings.model_copy(update={"api_token": None})
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    # Threads that take request connections from the pool and hand them back (app.api.deps).
    app.state.connectors = anyio.CapacityLimiter(POOL_THREADS)
    app.state.closers = anyio.CapacityLimiter(POOL_THREADS)
    app.state.migration_head = migration_head(url)
    app.state.workers = tuple(workers)
    install_error_handlers(app)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=max_body_bytes)
    app.add_middleware(SameOriginMiddleware, allowed=allowed_hosts(settings.allowed_hosts))
    app.include_router(api_router, prefix=API_PREFIX)
    mount_web(app)  # the dashboard: pages at /, its files at /static
    app.include_router(docs_router)  # the API reference at /docs and /redoc
    return app
