"""Shared fixtures; each lives in its own module and is only wired in here."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# Tests train small MLPs, many processes at once on two cores: one math thread per
# process (this one and every process it starts) keeps them from contending. Set
# before numpy or torch is imported: both read it once, at load.
for _threads in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_threads, "1")

from tests.fake_llm import FakeLLMServer  # noqa: E402


@pytest.fixture
def fake_llm() -> Iterator[FakeLLMServer]:
    """A running fake Chat Completions server with an empty script."""
    with FakeLLMServer() as server:
        yield server


from tests.databases import db_url, empty_db_url, postgres_test_database, session_factory  # noqa: E402, F401
from tests.postgres import postgres_url  # noqa: E402, F401
