"""Fixtures for tests that need a migrated, empty database on each backend.

``db_url`` runs a test once on SQLite and once on Postgres (marked
``postgres``; Postgres is started only when such a test runs). SQLite gets a
fresh file per test. Postgres has one database per session, migrated once and
emptied before each test (TRUNCATE takes ~20 ms; creating a database per test
took ~300 ms). Tests that change the schema itself use ``empty_db_url``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from app.db.models import Base
from app.db.session import make_engine, make_session_factory, upgrade_database
from tests.postgres import create_database, drop_database, plain_url


def _database_url(server_url: str, name: str) -> str:
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_test_database(postgres_url: str) -> Iterator[str]:
    """URL of a Postgres database at migration head, shared by the session's tests."""
    name = f"rf_test_{uuid.uuid4().hex[:8]}"
    create_database(postgres_url, name)
    url = _database_url(postgres_url, name)
    try:
        upgrade_database(url)
        yield url
    finally:
        drop_database(postgres_url, name)


def _empty_postgres(url: str) -> None:
    import psycopg

    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    with psycopg.connect(plain_url(url), autocommit=True) as conn:
        # Connections an earlier test left open (cached engines) would block TRUNCATE.
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty database at migration head, on SQLite and on Postgres."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'rewardforge.db'}"
        upgrade_database(url)
        return url
    url = request.getfixturevalue("postgres_test_database")
    _empty_postgres(url)
    return url


@pytest.fixture
def session_factory(db_url: str) -> Iterator[sessionmaker[Session]]:
    """A session factory on ``db_url``; its engine is disposed after the test."""
    engine = make_engine(db_url)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a database with no schema at all, on SQLite and on Postgres."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty' / 'rewardforge.db'}"
        return
    server_url = request.getfixturevalue("postgres_url")
    name = f"rf_empty_{uuid.uuid4().hex[:10]}"
    create_database(server_url, name)
    try:
        yield _database_url(server_url, name)
    finally:
        drop_database(server_url, name)
