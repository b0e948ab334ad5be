"""Clear 4xx answers: every error a client can cause says what to change."""

from __future__ import annotations

import logging
import math
import re
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from app.db.errors import ConflictError, NotFoundError

log = logging.getLogger(__name__)

_SECRET_NAME = re.compile(r"key|token|secret|password", re.IGNORECASE)


def invalid_field(
    loc: tuple[str | int, ...], message: str, value: Any = None
) -> RequestValidationError:
    """A 422 in the same shape as FastAPI's own, for checks that need the server's data."""
    return RequestValidationError(
        [{"type": "value_error", "loc": loc, "msg": message, "input": value}]
    )


def _redact(value: Any) -> Any:
    # Validation errors echo the input; a key sent by mistake must not come back.
    if isinstance(value, dict):
        return {
            name: "<redacted>" if _SECRET_NAME.search(str(name)) else _redact(item)
            for name, item in value.items()
        }
    if isinstance(value, list):
        return [_redact(item) for item in value]
    return value


def json_safe(value: Any) -> Any:
    """``value`` with what strict JSON cannot carry spelled out: NaN and the
    infinities as strings, lone surrogates as ``\\udXXX`` escapes."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {json_safe(name): json_safe(item) for name, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for error in exc.errors():
        shown = {name: part for name, part in error.items() if name not in ("ctx", "url")}
        if "input" in shown:
            if any(_SECRET_NAME.search(str(part)) for part in error.get("loc", ())):
                shown["input"] = "<redacted>"
            else:
                shown["input"] = _redact(shown["input"])
        errors.append(shown)
    return JSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        content={"detail": json_safe(jsonable_encoder(errors))},
    )


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(status_code=status.HTTP_404_NOT_FOUND, content={"detail": str(exc)})


async def _conflict(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(status_code=status.HTTP_409_CONFLICT, content={"detail": str(exc)})


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("%s %s: database error: %s", request.method, request.url.path, exc)
    return JSONResponse(
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        content={"detail": "the database is unavailable; try again shortly"},
        headers={"Retry-After": "5"},
    )


async def _database_busy(request: Request, exc: Exception) -> JSONResponse:
    log.warning("%s %s: no free database connection: %s", request.method, request.url.path, exc)
    return JSONResponse(
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        content={"detail": "every database connection is busy; try again shortly"},
        headers={"Retry-After": "1"},
    )


def install_error_handlers(app: FastAPI) -> None:
    """Map validation, lookup, state and database errors to their status codes."""
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(NotFoundError, _not_found)
    app.add_exception_handler(ConflictError, _conflict)
    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(PoolTimeoutError, _database_busy)
