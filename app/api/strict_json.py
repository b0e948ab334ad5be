"""Refuse JSON bodies that Python's parser takes but JSON does not have.

``json.loads`` reads ``NaN`` and ``Infinity`` and keeps lone surrogates
(``"\\ud800"``); none of them is JSON (RFC 8259, I-JSON), none can be stored
in every database or written back out, and a float field holding NaN slips
past range checks. Every API route refuses them up front with a 422 that
names the field, before any schema sees the body.
"""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi import Request

from app.api.errors import invalid_field

JSON_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def _problem(value: Any, path: tuple[str | int, ...]) -> tuple[tuple[str | int, ...], str] | None:
    """Where the first non-JSON value in ``value`` is and what is wrong with it."""
    if isinstance(value, float) and not math.isfinite(value):
        return path, "NaN and Infinity are not JSON numbers; send a finite number"
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path, "text must be valid Unicode: a lone surrogate (such as \\ud800) is not"
        return None
    if isinstance(value, dict):
        for name, item in value.items():
            found = _problem(name, path) or _problem(item, (*path, name))
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _problem(item, (*path, index))
            if found:
                return found
    return None


async def refuse_non_json_values(request: Request) -> None:
    """A route dependency: 422 for NaN, Infinity or a lone surrogate anywhere in the body."""
    if request.method not in JSON_METHODS:
        return
    body = await request.body()
    if not body:
        return
    try:
        parsed = json.loads(body)
    except ValueError:
        return  # not JSON at all: the route's own parsing answers that
    found = _problem(parsed, ("body",))
    if found:
        raise invalid_field(found[0], found[1])
