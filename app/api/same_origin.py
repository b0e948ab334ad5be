"""Answer only the server's own names, and take changes only from its own pages.

Two attacks need no token when the server has none (the loopback default):

- DNS rebinding: a page on ``evil.example`` points its name at 127.0.0.1 and
  reads the API as "same origin". Every request's ``Host`` must be one the
  server answers to: localhost, 127.0.0.1, [::1] (any port), and those in
  REWARDFORGE_ALLOWED_HOSTS; others get a 400 naming the setting.
- Cross-site request forgery: a page elsewhere posts a form to
  ``/api/runs/ID/cancel``. A mutating request whose ``Origin`` (or, without
  one, ``Referer``) is not this server's own origin gets a 403, and one with a
  body that is not JSON gets a 415 (forms cannot send JSON across origins
  without a preflight, which the server never grants).

Clients that are not browsers (curl, scripts) send neither header and pass;
a token, when configured, still guards them. The dashboard's own fetches
carry its origin and JSON, so they pass too.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SETTING = "REWARDFORGE_ALLOWED_HOSTS"
DEFAULT_PORTS = {"http": "80", "https": "443"}


def split_host(value: str) -> tuple[str, str | None]:
    """``name[:port]`` or ``[v6]:port`` as (lower-case name, port or None)."""
    value = value.strip().lower().rstrip(".")
    if value.startswith("["):
        name, _, rest = value.partition("]")
        return name + "]", rest[1:] if rest.startswith(":") else None
    name, colon, port = value.rpartition(":")
    return (name, port) if colon and port.isdigit() else (value, None)


def allowed_hosts(setting: str | None) -> tuple[str, ...]:
    """The loopback names and those of the comma-separated setting."""
    extra = [part.strip() for part in (setting or "").split(",") if part.strip()]
    return (*LOOPBACK_HOSTS, *extra)


def host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    """Whether a ``Host`` header names this server: an entry without a port takes any port."""
    if not host:
        return False
    name, port = split_host(host)
    for entry in allowed:
        if entry == "*":
            return True
        entry_name, entry_port = split_host(entry)
        if entry_name == name and entry_port in (None, port):
            return True
    return False


def _site(name: str, port: str | int | None, scheme: str) -> tuple[str, str | None]:
    # The scheme is left out: behind a TLS proxy the page is https, the request http.
    default = DEFAULT_PORTS.get(scheme)
    return name, None if port is None or str(port) == default else str(port)


def _claimed_site(url: str) -> tuple[str, str | None] | None:
    """(host, port unless the scheme's default) of an Origin or Referer; None if unparsable."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname:
        return None
    name = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return _site(name, port, parts.scheme)


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def refusal(scope: Scope, allowed: tuple[str, ...]) -> tuple[int, str] | None:
    """The status and reason to refuse the request with, or None to serve it."""
    headers = Headers(scope=scope)
    host = headers.get("host", "")
    if not host_allowed(host, allowed):
        return 400, (
            f"this server does not answer to the host name {host[:100]!r}; "
            f"an operator can add it to {SETTING}"
        )
    if scope.get("method", "GET") in SAFE_METHODS:
        return None
    own = _site(*split_host(host), scope.get("scheme", "http"))
    claimed = headers.get("origin") or headers.get("referer")
    if claimed is not None and _claimed_site(claimed) != own:
        return 403, (
            f"cross-origin request refused: it comes from {claimed[:100]!r}, not from "
            "this server's own pages"
        )
    content_type = headers.get("content-type")
    if content_type is not None and not _is_json(content_type):
        return 415, "send the request body as JSON (Content-Type: application/json)"
    return None


class SameOriginMiddleware:
    """Pure ASGI middleware: refuses foreign Host names and cross-origin changes."""

    def __init__(self, app: ASGIApp, *, allowed: tuple[str, ...] = LOOPBACK_HOSTS) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refused = refusal(scope, self.allowed)
            if refused is not None:
                status, detail = refused
                await JSONResponse({"detail": detail}, status_code=status)(scope, receive, send)
                return
        await self.app(scope, receive, send)
