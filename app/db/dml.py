"""Running UPDATE and DELETE statements whose row count decides what happens next."""

from __future__ import annotations

from typing import Any, Literal, cast

from sqlalchemy import CursorResult, Delete, Update
from sqlalchemy.orm import Session


def affected_rows(
    session: Session,
    statement: Update | Delete,
    synchronize: Literal[False, "fetch", "evaluate"] = False,
) -> int:
    """Execute ``statement`` in the session's transaction; return how many rows it changed.

    The count is what makes conditional updates safe: ``WHERE status = 'pending'``
    matched by two racing workers changes the row for one of them only.
    """
    options = statement.execution_options(synchronize_session=synchronize)
    return cast(CursorResult[Any], session.execute(options)).rowcount
