"""Engines, sessions and schema upgrades.

SQLite (the default, a file under ``data_dir``) runs in WAL mode with foreign
keys on and a busy timeout, so the API and several worker processes can share
one file: readers never block, writers queue for up to the timeout. Postgres
goes through psycopg 3. The schema comes from Alembic migrations only.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings, get_settings
from app.db.types import json_dumps

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000


def normalize_url(url: str) -> str:
    """Return ``url`` with Postgres URLs pointed at the psycopg 3 driver.

    ``postgresql://`` and ``postgres://`` (what most hosts hand out) become
    ``postgresql+psycopg://``; URLs naming a driver are left as they are.
    """
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def resolve_url(url: str | None = None) -> str:
    """The normalized database URL: ``url`` if given, else the one from Settings."""
    return normalize_url(url or get_settings().resolved_database_url)


def _sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # The busy timeout comes first so switching to WAL waits for other writers.
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` (default: Settings), creating the SQLite directory.

    Extra keyword arguments go to ``sqlalchemy.create_engine``. Do not share an
    engine across ``fork``: make a new one in the child process.
    """
    resolved = resolve_url(url)
    sqlite_file = _sqlite_file(resolved)
    if sqlite_file is not None:
        sqlite_file.parent.mkdir(parents=True, exist_ok=True)
    if make_url(resolved).get_backend_name() == "postgresql":
        kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("json_serializer", json_dumps)
    engine = create_engine(resolved, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _configure_sqlite)
    return engine


def pool_options(settings: Settings, url: str) -> dict[str, Any]:
    """Pool size, overflow and wait of ``settings`` for an engine on ``url``.

    SQLite in memory keeps its single connection; files and Postgres get a
    pool: by default room for every API thread, the event streams' pollers and
    the requests whose connections are being handed back.
    """
    resolved = resolve_url(url)
    if make_url(resolved).get_backend_name() != "postgresql" and _sqlite_file(resolved) is None:
        return {}
    return {
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_max_overflow,
        "pool_timeout": settings.db_pool_timeout_s,
    }


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory whose objects stay readable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@lru_cache(maxsize=16)
def _cached_factory(url: str) -> sessionmaker[Session]:
    return make_session_factory(make_engine(url))


def get_session_factory(url: str | None = None) -> sessionmaker[Session]:
    """The process-wide session factory for ``url`` (default: Settings), made once."""
    return _cached_factory(resolve_url(url))


@contextmanager
def session_scope(factory: sessionmaker[Session] | None = None) -> Iterator[Session]:
    """A session that commits when the block ends and rolls back if it raises."""
    session = (factory or get_session_factory())()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config for the project's migrations, aimed at ``url``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["url"] = resolve_url(url)
    return config


@contextmanager
def _migration_lock(url: str) -> Iterator[None]:
    # Postgres serialises concurrent upgrades with an advisory lock in env.py;
    # a SQLite file gets a lock file beside it (API and worker may start together).
    sqlite_file = _sqlite_file(url)
    if sqlite_file is None:
        yield
        return
    sqlite_file.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{sqlite_file}.migrate.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def upgrade_database(url: str | None = None, revision: str = "head") -> None:
    """Bring the schema at ``url`` (default: Settings) up to ``revision``."""
    resolved = resolve_url(url)
    with _migration_lock(resolved):
        command.upgrade(alembic_config(resolved), revision)


def downgrade_database(url: str | None = None, revision: str = "base") -> None:
    """Take the schema at ``url`` (default: Settings) down to ``revision``."""
    resolved = resolve_url(url)
    with _migration_lock(resolved):
        command.downgrade(alembic_config(resolved), revision)
