"""Shared fixtures; each lives in its own module and is only wired in here."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fake_llm import FakeLLMServer


@pytest.fixture
def fake_llm() -> Iterator[FakeLLMServer]:
    """A running fake Chat Completions server with an empty script."""
    with FakeLLMServer() as server:
        yield server


from tests.databases import db_url, empty_db_url, postgres_test_database, session_factory  # noqa: E402, F401
from tests.postgres import postgres_url  # noqa: E402, F401
