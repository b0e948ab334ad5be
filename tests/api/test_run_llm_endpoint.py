"""A run may name only LLM endpoints the operator chose, key or no key on the server."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.api.conftest import AUTH, Api, make_settings, open_api

RUN = {"env_id": "Hopper-v5", "task": "hop forward", "iterations": 1, "samples": 1}


def _create(api: Api, base_url: str) -> httpx.Response:
    body = {**RUN, "llm": {"model": "m", "base_url": base_url}}
    return api.client.post("/api/runs", json=body, headers=AUTH)


def test_without_a_server_key_a_run_cannot_aim_the_server_at_any_url(
    sqlite_url: str, tmp_path: Path
) -> None:
    for api in open_api(make_settings(sqlite_url, tmp_path / "data")):
        response = _create(api, "http://169.254.169.254/latest/meta-data")
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "llm", "base_url"]
        assert "REWARDFORGE_LLM_ALLOWED_BASE_URLS" in response.text
        assert api.client.get("/api/runs").json()["total"] == 0


def test_allow_listed_and_configured_endpoints_are_accepted(
    sqlite_url: str, tmp_path: Path
) -> None:
    settings = make_settings(
        sqlite_url,
        tmp_path / "data",
        llm_base_url="http://llm.internal:8000/v1",
        llm_allowed_base_urls="http://127.0.0.1:*",
    )
    for api in open_api(settings):
        assert _create(api, "http://LLM.internal:8000/v1/").status_code == 201
        assert _create(api, "http://127.0.0.1:45678/v1").status_code == 201
        assert _create(api, "http://10.0.0.5:8000/v1").status_code == 422
