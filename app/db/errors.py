"""Errors the repository raises; the API maps them to 404 and 409."""

from __future__ import annotations


class NotFoundError(LookupError):
    """The run, iteration or candidate named does not exist."""


class ConflictError(ValueError):
    """The change is not allowed in the current state (e.g. deleting a running run)."""
