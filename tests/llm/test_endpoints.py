"""One rule for "the same LLM endpoint" and for the endpoints a run may name."""

from __future__ import annotations

import pytest

from app.config import Settings
from app.llm.endpoints import endpoint_allowed, normalize_base_url, same_endpoint


def _settings(**fields: object) -> Settings:
    return Settings(_env_file=None, **fields)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        ("https://LLM.example/v1/", "https://llm.example/v1"),
        ("https://llm.example:443/v1", "https://llm.example/v1"),
        ("http://127.0.0.1:8080/v1//", "http://127.0.0.1:8080/v1"),
        ("http://[::1]:80/", "http://[::1]"),
        ("  ", None),
        (None, None),
    ],
)
def test_base_urls_are_normalised(url: str | None, normal: str | None) -> None:
    assert normalize_base_url(url) == normal


def test_trailing_slash_names_the_same_endpoint_for_worker_and_api() -> None:
    # The worker sends the server's key only when this holds; a slash must not lose it.
    assert same_endpoint("http://127.0.0.1:8080/v1/", "http://127.0.0.1:8080/v1")
    assert not same_endpoint("http://127.0.0.1:8080/v1", "http://127.0.0.1:8081/v1")
    assert not same_endpoint("http://127.0.0.1:8080/v2", "http://127.0.0.1:8080/v1")


def test_only_the_server_endpoint_is_allowed_by_default() -> None:
    settings = _settings(llm_base_url="http://llm.internal:8000/v1")
    assert endpoint_allowed("http://LLM.internal:8000/v1/", settings)
    assert not endpoint_allowed("http://169.254.169.254/latest", settings)
    assert not endpoint_allowed("http://127.0.0.1:9/v1", _settings())


def test_allow_list_entries_name_origins_paths_or_any_port() -> None:
    settings = _settings(
        llm_allowed_base_urls="https://api.openai.com/v1, http://127.0.0.1:*, http://gpu-box:8000"
    )
    assert endpoint_allowed("https://api.openai.com/v1/", settings)
    assert not endpoint_allowed("https://api.openai.com/v2", settings)
    assert endpoint_allowed("http://127.0.0.1:51234/v1", settings)
    assert not endpoint_allowed("http://127.0.0.2:51234/v1", settings)
    assert endpoint_allowed("http://gpu-box:8000/any/path", settings)
    assert not endpoint_allowed("http://gpu-box:8001/v1", settings)
    assert not endpoint_allowed("https://api.openai.com.evil.example/v1", settings)
