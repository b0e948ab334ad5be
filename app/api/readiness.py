"""Readiness: the database answers, its schema is at the newest migration, and
every worker this process runs is working."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from app.api.schemas.health import Readiness
from app.db.session import alembic_config

log = logging.getLogger(__name__)


class WorkerState(Protocol):
    """What readiness needs of a worker running in this process."""

    name: str

    def problem(self) -> str | None:
        """Why the worker is not working (stopped, database unreachable), or None."""


def migration_head(url: str) -> str | None:
    """The newest revision the project's migrations define."""
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def check_readiness(
    engine: Engine, *, head: str | None, workers: Sequence[WorkerState] = ()
) -> Readiness:
    """Connect, read the stored revision and compare it with ``head``; ask each worker."""
    states = {worker.name: worker.problem() or "ok" for worker in workers}
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
            workers=states,
            detail="the database cannot be reached",
        )
    if revision != head:
        return Readiness(
            status="not_ready",
            database="ok",
            revision=revision,
            head=head,
            workers=states,
            detail="the schema is not at the newest migration: run `rewardforge db upgrade`",
        )
    down = [f"{name}: {state}" for name, state in states.items() if state != "ok"]
    if down:
        return Readiness(
            status="not_ready",
            database="ok",
            revision=revision,
            head=head,
            workers=states,
            detail=f"a worker is not working ({'; '.join(down)})",
        )
    return Readiness(status="ready", database="ok", revision=revision, head=head, workers=states)
