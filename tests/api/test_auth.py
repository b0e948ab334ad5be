"""Bearer tokens: every mutating route refuses a request without an accepted token."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.routing import iter_route_contexts

from app.api.deps import hash_token, token_hashes
from app.server import create_app
from tests.api.conftest import AUTH, TOKEN, Api, make_settings, open_api

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


def _mutating_routes(api: Api) -> Iterator[tuple[str, str]]:
    # Included routers are resolved lazily; this walks them like the router does.
    for route in iter_route_contexts(api.app.routes):
        for method in sorted((route.methods or set()) & MUTATING):
            # Any id will do: the token is checked before the run is looked up.
            yield method, re.sub(r"\{[^}]+\}", "0", route.path or "")


def test_every_mutating_route_refuses_a_missing_or_wrong_token(api: Api) -> None:
    routes = list(_mutating_routes(api))
    assert len(routes) >= 5  # create, cancel, resume, delete, feedback at least
    for method, path in routes:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
            response = api.client.request(method, path, json={}, headers=headers)
            assert response.status_code == 401, (method, path, headers, response.text)
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert response.json()["detail"]


def test_openapi_declares_the_token_on_every_mutating_operation(api: Api) -> None:
    schema = api.client.get("/api/openapi.json").json()
    operations = [
        (method, path, op)
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if method.upper() in MUTATING
    ]
    assert len(operations) == len(list(_mutating_routes(api)))
    for method, path, op in operations:
        assert op.get("security") == [{"HTTPBearer": []}], (method, path)


def test_accepted_token_passes_the_check(api: Api) -> None:
    for method, path in _mutating_routes(api):
        response = api.client.request(method, path, json={}, headers=AUTH)
        assert response.status_code != 401, (method, path, response.text)


def test_reading_needs_no_token(api: Api) -> None:
    assert api.client.get("/api/runs").status_code == 200
    assert api.client.get("/api/envs").status_code == 200


def test_any_of_several_configured_tokens_is_accepted(sqlite_url: str, tmp_path: Path) -> None:
    settings = make_settings(sqlite_url, tmp_path / "data", api_token=" first , second,")
    for api in open_api(settings):
        body = {"env_id": "CartPole-v1", "task": "balance"}
        for token in ("first", "second"):
            headers = {"Authorization": f"Bearer {token}"}
            assert api.client.post("/api/runs", json=body, headers=headers).status_code == 201
        refused = api.client.post("/api/runs", json=body, headers={"Authorization": "Bearer "})
        assert refused.status_code == 401


def test_server_keeps_only_hashes_of_tokens(sqlite_url: str, tmp_path: Path) -> None:
    app = create_app(make_settings(sqlite_url, tmp_path / "data", api_token="one,two"))
    assert app.state.token_hashes == (hash_token("one"), hash_token("two"))
    assert app.state.settings.api_token is None
    app.state.engine.dispose()


def test_no_configured_token_leaves_routes_open(sqlite_url: str, tmp_path: Path) -> None:
    assert token_hashes("  , ") == ()
    for api in open_api(make_settings(sqlite_url, tmp_path / "data", api_token=None)):
        body = {"env_id": "CartPole-v1", "task": "balance"}
        assert api.client.post("/api/runs", json=body).status_code == 201


@pytest.mark.parametrize("path", ["/api/health", "/api/ready", "/api/openapi.json"])
def test_health_and_schema_are_public(api: Api, path: str) -> None:
    assert api.client.get(path).status_code == 200
