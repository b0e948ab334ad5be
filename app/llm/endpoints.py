"""Which LLM endpoint a URL names, and which endpoints a run may use.

The API (when it accepts a run) and the worker (when it decides whether the
server's key goes along) compare endpoints through ``normalize_base_url``, so
``https://LLM.example:443/v1/`` and ``https://llm.example/v1`` are one endpoint
to both.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from app.config import Settings

DEFAULT_PORTS = {"http": 80, "https": 443}
ALLOWED_SETTING = "REWARDFORGE_LLM_ALLOWED_BASE_URLS"


def normalize_base_url(url: str | None) -> str | None:
    """``url`` with scheme and host in lower case, no default port, no trailing
    slash, no query or fragment; None for None or blank."""
    if url is None or not url.strip():
        return None
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:  # not a number: keep what was written, it matches nothing else
        return url.strip()
    netloc = host if port is None or port == DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    if parts.username or parts.password:
        netloc = f"{parts.netloc.rsplit('@', 1)[0]}@{netloc}"
    return urlunsplit((scheme, netloc, parts.path.rstrip("/"), "", ""))


def same_endpoint(first: str | None, second: str | None) -> bool:
    """Whether two base URLs name the same endpoint (None: the provider's default)."""
    return normalize_base_url(first) == normalize_base_url(second)


def _matches(url: str, entry: str) -> bool:
    # An entry names an origin (any path under it) or an exact base URL; port * is any port.
    wildcard = entry.strip().rstrip("/")
    any_port = False
    split = urlsplit(wildcard)
    if split.netloc.endswith(":*"):
        any_port = True
        wildcard = urlunsplit(split._replace(netloc=split.netloc[:-2]))
    allowed, given = urlsplit(normalize_base_url(wildcard) or ""), urlsplit(url)
    if (allowed.scheme, allowed.hostname) != (given.scheme, given.hostname):
        return False
    if not any_port and allowed.port != given.port:
        return False
    return allowed.path in ("", given.path)


def endpoint_allowed(url: str, settings: Settings) -> bool:
    """Whether a run may name ``url``: the server's REWARDFORGE_LLM_BASE_URL, or one
    matched by REWARDFORGE_LLM_ALLOWED_BASE_URLS."""
    normalized = normalize_base_url(url)
    if normalized is None or same_endpoint(normalized, settings.llm_base_url):
        return True
    entries = [part for part in (settings.llm_allowed_base_urls or "").split(",") if part.strip()]
    return any(_matches(normalized, entry) for entry in entries)
