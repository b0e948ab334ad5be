"""Liveness and readiness."""

from __future__ import annotations

from pathlib import Path

from tests.api.conftest import Api, make_settings, open_api


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
