"""An API app on a real migrated database, a client for it, and the token it accepts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db.session import upgrade_database
from app.server import create_app

TOKEN = "s3cret-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Api:
    """A client on a running app, and what tests need to seed its database."""

    client: TestClient
    app: FastAPI
    settings: Settings
    session_factory: sessionmaker[Session]

    @property
    def artifacts_dir(self) -> Path:
        return self.settings.artifacts_dir


def make_settings(url: str, data_dir: Path, **overrides: object) -> Settings:
    """Settings for a test: nothing read from .env, one accepted token, no LLM key."""
    fields: dict[str, object] = {
        "database_url": url,
        "data_dir": data_dir,
        "api_token": TOKEN,
        "llm_api_key": None,
        "llm_base_url": None,
    }
    fields.update(overrides)
    return Settings(_env_file=None, **fields)  # type: ignore[call-arg]


def open_api(settings: Settings) -> Iterator[Api]:
    """Create the app on `settings` and yield a client on it (lifespan running)."""
    app = create_app(settings)
    # A loopback name: the server answers no other Host by default.
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield Api(client, app, settings, app.state.session_factory)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A migrated SQLite database of this test's own."""
    url = f"sqlite:///{tmp_path / 'rewardforge.db'}"
    upgrade_database(url)
    return url


@pytest.fixture
def api(sqlite_url: str, tmp_path: Path) -> Iterator[Api]:
    """The app on SQLite, with a token configured."""
    yield from open_api(make_settings(sqlite_url, tmp_path / "data"))


@pytest.fixture
def api_any_db(db_url: str, tmp_path: Path) -> Iterator[Api]:
    """The app on SQLite and on Postgres (the test runs once on each)."""
    yield from open_api(make_settings(db_url, tmp_path / "data"))
