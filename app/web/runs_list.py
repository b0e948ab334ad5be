"""The runs list page's query (filters, search, sort, page) and how its cells read.

Everything comes from the page's URL, so a search, a sort or a page can be
bookmarked and shared, and the list's auto-refresh fetches the same view. A
value that cannot match is dropped with a notice, never answered with an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from urllib.parse import urlencode

from app.db.models import utcnow
from app.db.run_order import RUN_SORTS

PAGE_SIZE = 50
MAX_SEARCH_CHARS = 200
ENV_ID_RE = re.compile(r"[\x21-\x7e]{1,128}")  # what the API accepts as an env id
TERMINAL = ("succeeded", "failed", "cancelled")
# (sort key, header): the table's columns, in order.
COLUMNS = (
    ("task", "Task"),
    ("status", "Status"),
    ("env", "Environment"),
    ("best_fitness", "Best fitness"),
    ("normalized_score", "Normalised score"),
    ("progress", "Progress"),
    ("cost", "LLM cost"),
    ("duration", "Duration"),
    ("created", "Created"),
)


@dataclass(frozen=True)
class RunsQuery:
    """One view of the runs list, as its URL says."""

    status: str = ""
    env: str = ""
    q: str = ""
    sort: str = "created"
    order: str = "desc"
    page: int = 1
    notices: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def parse(cls, params: dict[str, str | None], *, statuses: tuple[str, ...]) -> RunsQuery:
        """The view the query parameters ask for; what cannot match is dropped with a notice."""
        notices = []
        status = params.get("status") or ""
        if status and status not in statuses:
            notices.append(f"There is no run status {status[:40]!r}; showing every status.")
            status = ""
        env = params.get("env") or ""
        if env and not ENV_ID_RE.fullmatch(env):
            notices.append(f"{env[:40]!r} is not an environment id; showing every environment.")
            env = ""
        q = " ".join((params.get("q") or "").split())[:MAX_SEARCH_CHARS]
        sort = params.get("sort") or "created"
        if sort not in RUN_SORTS:
            notices.append(f"Runs cannot be sorted by {sort[:40]!r}; newest first instead.")
            sort = "created"
        order = params.get("order") or RUN_SORTS[sort]
        order = order if order in ("asc", "desc") else RUN_SORTS[sort]
        page_text = params.get("page") or "1"
        page = int(page_text) if page_text.isdigit() and 0 < int(page_text) < 10**7 else 1
        return cls(status, env, q, sort, order, page, tuple(notices))

    @property
    def descending(self) -> bool:
        return self.order == "desc"

    @property
    def offset(self) -> int:
        return (self.page - 1) * PAGE_SIZE

    @property
    def filtered(self) -> bool:
        return bool(self.status or self.env or self.q)

    def url(self, **changes: str | int) -> str:
        """This view's address with ``changes``; defaults are left out of it."""
        view = replace(self, **changes)  # type: ignore[arg-type]
        params = {
            "status": view.status,
            "env": view.env,
            "q": view.q,
            "sort": "" if view.sort == "created" else view.sort,
            "order": "" if view.order == RUN_SORTS[view.sort] else view.order,
            "page": "" if view.page == 1 else str(view.page),
        }
        text = urlencode({name: value for name, value in params.items() if value})
        return f"/?{text}" if text else "/"

    def sort_link(self, column: str) -> str:
        """Sorting by ``column``: a first click in its natural order, a second reverses it."""
        if column == self.sort:
            return self.url(order="asc" if self.descending else "desc", page=1)
        return self.url(sort=column, order=RUN_SORTS[column], page=1)

    def aria_sort(self, column: str) -> str | None:
        if column != self.sort:
            return None
        return "descending" if self.descending else "ascending"


def pages(total: int) -> int:
    """How many pages ``total`` runs fill (at least one)."""
    return max(1, -(-total // PAGE_SIZE))


def duration(status: str, created: datetime, updated: datetime) -> tuple[str, bool]:
    """(how long the run has taken, whether it is still going): a finished run's
    time from creation to its last change, else its time so far."""
    going = status not in TERMINAL
    seconds = max(0.0, ((utcnow() if going else updated) - created).total_seconds())
    return _human(seconds), going


def _human(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min {int(seconds % 60):02d} s"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h {minutes % 60:02d} min"
    return f"{hours // 24} d {hours % 24} h"
