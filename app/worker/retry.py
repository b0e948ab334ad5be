"""Riding out a database outage: which errors mean "the database is away", and
how long a worker waits before asking again."""

from __future__ import annotations

import random

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

FIRST_DELAY_S = 0.5
MAX_DELAY_S = 5.0  # a refused connection is cheap: asking every 5 s costs the server nothing


def database_error(exc: BaseException) -> BaseException | None:
    """The error in ``exc``'s chain that says the database could not be reached, if any.

    Connection refused or dropped, a server shutting down or starting up, a
    locked SQLite file, no free connection in the pool: all pass once the
    database answers again. Errors in a statement (a bug, a constraint) do not.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OperationalError | InterfaceError | PoolTimeoutError):
            return current
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return current
        current = current.__cause__ or current.__context__
    return None


def describe_database_error(error: BaseException) -> str:
    """A short description without hosts or users (the driver's message names them)."""
    cause = getattr(error, "orig", None) or error
    return f"database unreachable ({type(cause).__name__})"


class Backoff:
    """Delays that double from ``first`` up to ``cap``, each shortened by up to a
    fifth at random so that workers restarted together do not ask in step."""

    def __init__(self, first: float = FIRST_DELAY_S, cap: float = MAX_DELAY_S) -> None:
        self.first = first
        self.cap = cap
        self.failures = 0

    def next_delay(self) -> float:
        delay = min(self.cap, self.first * 2.0 ** min(self.failures, 32))
        self.failures += 1
        return delay * random.uniform(0.8, 1.0)

    def reset(self) -> None:
        self.failures = 0
