"""Readiness: the database answers and its schema is at the newest migration."""

from __future__ import annotations

import logging

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from app.api.schemas.health import Readiness
from app.db.session import alembic_config

log = logging.getLogger(__name__)


def migration_head(url: str) -> str | None:
    """The newest revision the project's migrations define."""
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def check_readiness(engine: Engine, *, head: str | None) -> Readiness:
    """Connect, read the stored revision and compare it with ``head``."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            revision = MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as exc:
        # The full error names hosts and users: it goes to the log, not to the client.
        log.warning("readiness check failed: %s", exc)
        cause = getattr(exc, "orig", None) or exc
        return Readiness(
            status="not_ready",
            database=f"unreachable ({type(cause).__name__})",
            revision=None,
            head=head,
            detail="the database cannot be reached",
        )
    if revision != head:
        return Readiness(
            status="not_ready",
            database="ok",
            revision=revision,
            head=head,
            detail="the schema is not at the newest migration: run `rewardforge db upgrade`",
        )
    return Readiness(status="ready", database="ok", revision=revision, head=head)
