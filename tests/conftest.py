"""Shared fixtures; each lives in its own module and is only wired in here."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Tests train small MLPs, many processes at once on two cores: one math thread per
# process (this one and every process it starts) keeps them from contending. Set
# before numpy or torch is imported: both read it once, at load.
for _threads in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_threads, "1")

from tests.fake_llm import FakeLLMServer  # noqa: E402

# Under pytest-xdist (`make test` runs `-n 2`) a worker that is free takes the next
# test file in collection order. A file of several minutes taken last would run alone
# at the end while the other worker idles, so these, the longest, come first, in this
# order; the rest keep their order. Without xdist nothing is reordered.
LONGEST_FIRST = (
    "tests/test_demo.py",
    "tests/sandbox/test_hostile.py",
    "tests/execution/test_ray.py",
    "tests/service/",
    "tests/cli/",
    "tests/web/",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not hasattr(config, "workerinput"):  # not an xdist worker
        return

    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        for position, prefix in enumerate(LONGEST_FIRST):
            if path.startswith(prefix):
                return position
        return len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: each part keeps its own order


@pytest.fixture
def data_dir_setting(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Path], Path]]:
    """Point this process's settings (``REWARDFORGE_DATA_DIR``) at a path for one test:
    ``get_settings`` is cached, so it is cleared when the path is set and after the test."""
    from app.config import get_settings

    def point(path: Path) -> Path:
        monkeypatch.setenv("REWARDFORGE_DATA_DIR", str(path))
        get_settings.cache_clear()
        return path

    yield point
    get_settings.cache_clear()


@pytest.fixture
def fake_llm() -> Iterator[FakeLLMServer]:
    """A running fake Chat Completions server with an empty script."""
    with FakeLLMServer() as server:
        yield server


from tests.databases import db_url, empty_db_url, postgres_test_database, session_factory  # noqa: E402, F401
from tests.postgres import postgres_url  # noqa: E402, F401
