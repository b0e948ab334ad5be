"""Liveness and readiness."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from app.db.session import upgrade_database
from app.server import create_app
from app.worker.embedded import EmbeddedWorker
from tests.api.conftest import Api, make_settings, open_api

LOCAL = "http://127.0.0.1"  # a Host the server answers


def test_health_and_ready_on_a_migrated_database(api: Api) -> None:
    assert api.client.get("/api/health").json() == {"status": "ok"}
    ready = api.client.get("/api/ready")
    assert ready.status_code == 200
    body = ready.json()
    assert (body["status"], body["database"]) == ("ready", "ok")
    assert body["revision"] == body["head"] is not None


def test_not_ready_before_migrations(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    for api in open_api(make_settings(url, tmp_path / "data")):
        assert api.client.get("/api/health").status_code == 200
        response = api.client.get("/api/ready")
        assert response.status_code == 503
        body = response.json()
        assert (body["status"], body["revision"]) == ("not_ready", None)
        assert "rewardforge db upgrade" in body["detail"]


def test_not_ready_when_the_database_is_unreachable(tmp_path: Path) -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2"
    for api in open_api(make_settings(url, tmp_path / "data")):
        response = api.client.get("/api/ready")
        assert response.status_code == 503
        body = response.json()
        assert body["database"].startswith("unreachable")
        assert "127.0.0.1" not in response.text  # hosts and users stay in the log
        listing = api.client.get("/api/runs")
        assert listing.status_code == 503
        assert "database is unavailable" in listing.json()["detail"]


def test_not_ready_while_a_worker_cannot_reach_the_database(tmp_path: Path) -> None:
    # The API's own database answers; the worker's does not (it is refused at once).
    settings = make_settings(f"sqlite:///{tmp_path / 'ok.db'}", tmp_path / "data", workers=1)
    upgrade_database(settings.resolved_database_url)
    unreachable = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2"
    worker = EmbeddedWorker(settings, unreachable, name="embedded-0")
    worker.start()
    try:
        with TestClient(create_app(settings, workers=[worker]), base_url=LOCAL) as client:
            body = _ready_when(client, lambda body: body["workers"]["embedded-0"] != "ok")
            assert body["status"] == "not_ready" and body["database"] == "ok"
            assert body["workers"] == {"embedded-0": "database unreachable (OperationalError)"}
            assert "embedded-0: database unreachable" in body["detail"]
            assert "127.0.0.1" not in json.dumps(body)
            assert worker.thread.is_alive()  # it keeps asking
    finally:
        worker.stop()
        worker.thread.join(timeout=10)


def test_ready_with_a_working_worker_and_not_once_it_stopped(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'ok.db'}", tmp_path / "data", workers=1)
    upgrade_database(settings.resolved_database_url)
    worker = EmbeddedWorker(settings, settings.resolved_database_url, name="embedded-0")
    worker.start()
    with TestClient(create_app(settings, workers=[worker]), base_url=LOCAL) as client:
        response = client.get("/api/ready")
        assert response.status_code == 200, response.text
        assert response.json()["workers"] == {"embedded-0": "ok"}
        worker.stop()
        worker.thread.join(timeout=10)
        response = client.get("/api/ready")
        assert response.status_code == 503
        assert response.json()["workers"] == {"embedded-0": "stopped"}


def _ready_when(client: TestClient, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while True:
        response = client.get("/api/ready")
        body = response.json()
        if done(body) or time.monotonic() > deadline:
            assert response.status_code == (200 if body["status"] == "ready" else 503)
            return body
        time.sleep(0.1)
