"""The run page listens for every event the service stores: EventSource delivers
only the named events a page subscribes to, so a kind missing from its list is an
update the page never sees."""

from __future__ import annotations

import re

from tests.processes import REPO

STORED = (
    re.compile(r'kind="([a-z_]+\.[a-z_]+)"'),  # add_event(..., kind="run.status", ...)
    re.compile(r'\.event\(\s*[\w.]+,\s*"([a-z_]+\.[a-z_]+)"'),  # store.event(run_id, "...")
)


def stored_event_kinds() -> set[str]:
    kinds: set[str] = set()
    for path in (REPO / "app").rglob("*.py"):
        text = path.read_text()
        for pattern in STORED:
            kinds.update(pattern.findall(text))
    return kinds


def test_run_page_listens_for_every_stored_event_kind() -> None:
    kinds = stored_event_kinds()
    assert {"candidate.progress", "candidate.rung", "halving.cut", "llm.call"} <= kinds
    page = (REPO / "app/web/static/js/run_page.js").read_text()
    listed = set(re.findall(r'^\s*"([a-z_]+\.[a-z_]+)",$', page, re.M))
    assert kinds <= listed, f"not followed by the run page: {sorted(kinds - listed)}"
