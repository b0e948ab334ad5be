"""Foreign Host names and cross-origin changes are refused, with or without a token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.db.repository import get_run
from tests.api.conftest import AUTH, Api, make_settings, open_api
from tests.api.seed import queued_run

EVIL = "http://evil.example"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def open_server(sqlite_url: str, tmp_path: Path) -> Iterator[Api]:
    """The app with no token: what `rewardforge serve` is on 127.0.0.1 by default."""
    yield from open_api(make_settings(sqlite_url, tmp_path / "data", api_token=None))


def _queued(api: Api) -> str:
    with api.session_factory.begin() as session:
        return queued_run(session).id


def _status(api: Api, run_id: str) -> str:
    with api.session_factory() as session:
        run = get_run(session, run_id=run_id)
        assert run is not None
        return run.status


def test_cross_site_form_post_does_not_cancel_a_run(open_server: Api) -> None:
    run_id = _queued(open_server)
    response = open_server.client.post(
        f"/api/runs/{run_id}/cancel", content=b"x=1", headers={"Origin": EVIL, **FORM}
    )
    assert response.status_code == 403
    assert "cross-origin" in response.json()["detail"]
    assert _status(open_server, run_id) == "queued"


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": EVIL, "Content-Type": "application/json"},
        {"Origin": "null"},  # a sandboxed frame or a file: page
        {"Referer": f"{EVIL}/page.html"},
        {"Origin": "http://127.0.0.1:9999"},  # another port on this machine is another site
    ],
)
def test_cross_origin_changes_are_refused_even_with_a_token(
    api: Api, headers: dict[str, str]
) -> None:
    run_id = _queued(api)
    response = api.client.post(f"/api/runs/{run_id}/cancel", headers={**AUTH, **headers})
    assert response.status_code == 403
    assert _status(api, run_id) == "queued"


def test_form_body_without_origin_is_refused_with_415(open_server: Api) -> None:
    run_id = _queued(open_server)
    response = open_server.client.post(f"/api/runs/{run_id}/cancel", content=b"", headers=FORM)
    assert response.status_code == 415
    assert "application/json" in response.json()["detail"]
    assert _status(open_server, run_id) == "queued"


def test_same_origin_json_and_plain_clients_pass(open_server: Api) -> None:
    # What the dashboard's fetch sends: its own origin, JSON or no body.
    first, second = _queued(open_server), _queued(open_server)
    own = {"Origin": "http://127.0.0.1", "Referer": "http://127.0.0.1/runs/x"}
    assert open_server.client.post(f"/api/runs/{first}/cancel", headers=own).status_code == 200
    # curl and scripts send neither header.
    response = open_server.client.post(
        f"/api/runs/{second}/cancel", headers={"Content-Type": "application/json; charset=utf-8"}
    )
    assert response.status_code == 200
    assert _status(open_server, first) == _status(open_server, second) == "cancelled"


@pytest.mark.parametrize("path", ["/api/runs", "/", "/api/health"])
def test_a_foreign_host_name_is_not_served(open_server: Api, path: str) -> None:
    response = open_server.client.get(path, headers={"Host": "evil.example"})
    assert response.status_code == 400
    assert "REWARDFORGE_ALLOWED_HOSTS" in response.json()["detail"]


@pytest.mark.parametrize(
    "host", ["localhost", "localhost:8000", "127.0.0.1:8000", "[::1]:8000", "LOCALHOST"]
)
def test_loopback_names_are_served(open_server: Api, host: str) -> None:
    assert open_server.client.get("/api/runs", headers={"Host": host}).status_code == 200


def test_allowed_hosts_setting_adds_names(sqlite_url: str, tmp_path: Path) -> None:
    settings = make_settings(
        sqlite_url, tmp_path / "data", allowed_hosts="rf.example.org, lab:8443"
    )
    for api in open_api(settings):
        client = api.client
        assert client.get("/api/runs", headers={"Host": "rf.example.org:8000"}).status_code == 200
        assert client.get("/api/runs", headers={"Host": "lab:8443"}).status_code == 200
        assert client.get("/api/runs", headers={"Host": "lab:8000"}).status_code == 400
        run_id = _queued(api)
        # Behind a TLS proxy the page is https while the request arrives as http.
        own = {"Host": "rf.example.org", "Origin": "https://rf.example.org", **AUTH}
        assert client.post(f"/api/runs/{run_id}/cancel", headers=own).status_code == 200
