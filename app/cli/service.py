"""``rewardforge serve`` and ``rewardforge worker``."""

from __future__ import annotations

import ipaddress
import logging
import signal
from typing import Annotated

import typer
from pydantic import ValidationError

from app.config import Settings, get_settings
from app.db.session import get_session_factory, upgrade_database


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_settings() -> Settings:
    """The settings from the environment and .env; a bad one ends the command saying why."""
    try:
        return get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            name = "REWARDFORGE_" + "_".join(str(part) for part in error["loc"]).upper()
            message = str(error.get("ctx", {}).get("error") or error["msg"])
            typer.echo(message if name in message else f"{name}: {message}", err=True)
        raise typer.Exit(2) from None


def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(min=0, max=16, help="embedded run workers")] = 1,
) -> None:
    """Serve the REST API and the dashboard, with an embedded worker (SQLite by default)."""
    import uvicorn

    from app.server import create_app
    from app.worker.embedded import start_embedded_workers

    settings = load_settings()
    if not is_loopback(host) and not settings.api_token:
        raise typer.BadParameter(
            f"refusing to listen on {host} without REWARDFORGE_API_TOKEN: anyone who can "
            "reach it could start runs. Set a token, or listen on 127.0.0.1.",
            param_hint="--host",
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    url = settings.resolved_database_url
    upgrade_database(url)
    embedded = start_embedded_workers(settings, url, workers)
    try:
        app = create_app(settings, workers=embedded)
        uvicorn.run(app, host=host, port=port, log_level="info")
    finally:
        for worker in embedded:
            worker.stop()


def worker(
    once: Annotated[bool, typer.Option(help="execute at most one run, then exit")] = False,
) -> None:
    """Execute queued runs from the database (start several against one Postgres)."""
    from app.worker.loop import Worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = load_settings()
    url = settings.resolved_database_url
    upgrade_database(url)
    runner = Worker(settings, get_session_factory(url))

    def stop(signum: int, frame: object) -> None:
        logging.getLogger(__name__).info("stopping: the current run goes back to the queue")
        runner.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if once:
        runner.run_once()
    else:
        runner.run_forever()
