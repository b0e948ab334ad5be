"""Dependencies of the routes: the database session, the settings, the bearer token."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings

_bearer = HTTPBearer(
    auto_error=False,
    description="One of the tokens in REWARDFORGE_API_TOKEN (comma-separated). "
    "Required on every mutating route when the server has tokens configured.",
)


def hash_token(token: str) -> bytes:
    """SHA-256 of a token: the only form in which the server keeps tokens."""
    return hashlib.sha256(token.encode("utf-8")).digest()


def token_hashes(api_token: str | None) -> tuple[bytes, ...]:
    """Hashes of the accepted tokens in a comma-separated setting; empty when none."""
    tokens = [part.strip() for part in (api_token or "").split(",")]
    return tuple(hash_token(token) for token in tokens if token)


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=detail,
        headers={"WWW-Authenticate": 'Bearer realm="rewardforge"'},
    )


def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Refuse the request (401) unless it carries an accepted bearer token.

    Open when the server has no tokens configured. The presented token is
    hashed and compared with every accepted hash in constant time.
    """
    accepted: tuple[bytes, ...] = request.app.state.token_hashes
    if not accepted:
        return
    if credentials is None or not credentials.credentials:
        raise _unauthorized(
            "this route needs a bearer token: send 'Authorization: Bearer <token>' "
            "with a token from the server's REWARDFORGE_API_TOKEN"
        )
    presented = hash_token(credentials.credentials)
    matched = False
    for candidate in accepted:  # no early exit: timing says nothing about which matched
        matched |= hmac.compare_digest(candidate, presented)
    if not matched:
        raise _unauthorized("the bearer token is not one the server accepts")


def get_settings_dep(request: Request) -> Settings:
    """The settings the app was created with."""
    return request.app.state.settings


def get_session_factory(request: Request) -> sessionmaker[Session]:
    """The app's session factory, for work that opens its own short sessions."""
    return request.app.state.session_factory


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A session for one request, on a connection of its own; routes commit what they
    change.

    The connection is taken from the pool before the route runs and handed back after
    the response is built, each in a thread of its own limiter (``app.state.connectors``,
    ``app.state.closers``), never in the routes' threads. Had a route thread waited for
    the pool, a crowd could take every route thread waiting for connections held by
    finished requests that need a route thread to build their response: no request
    would move until the pool's timeout answered 503.
    """
    state = request.app.state
    connection = await anyio.to_thread.run_sync(state.engine.connect, limiter=state.connectors)
    session = state.session_factory(bind=connection)
    try:
        yield session
    finally:
        with anyio.CancelScope(shield=True):  # a cancelled request still returns its connection
            await anyio.to_thread.run_sync(_close, session, connection, limiter=state.closers)


def _close(session: Session, connection: Connection) -> None:
    try:
        session.close()
    finally:
        connection.close()


SessionDep = Annotated[Session, Depends(get_session)]
SessionFactoryDep = Annotated[sessionmaker[Session], Depends(get_session_factory)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
RequireToken = Depends(require_token)
"""Put in a mutating route's ``dependencies=[...]``."""
