"""Progress reporting from the loop to whoever watches (the CLI's bars, logs).

The database events are the durable record; this is the live, in-process view.
"""

from __future__ import annotations

from typing import Any, Protocol


class Progress(Protocol):
    def __call__(self, kind: str, data: dict[str, Any]) -> None: ...


def ignore_progress(kind: str, data: dict[str, Any]) -> None:
    """The default sink: nobody is watching in-process."""
