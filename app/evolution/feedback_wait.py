"""Pause a run after an iteration until a person says continue (or time runs out)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from app.db.run_store import RunStore
from app.evolution.progress import Progress

POLL_SECONDS = 0.5


def wait_for_feedback(
    store: RunStore,
    *,
    run_id: str,
    iteration: int,
    timeout_s: float,
    should_cancel: Callable[[], bool],
    progress: Progress,
) -> None:
    """Block until a "continue" arrives for ``iteration``, the timeout passes, or cancel.

    A resumed run does not wait again for an iteration it already moved past.
    """
    if store.continue_given(run_id, iteration):
        return
    store.set_status(run_id, "waiting_feedback")
    # "until" in wall-clock time lets a page that opens mid-wait count down to the continue.
    until = datetime.now(UTC) + timedelta(seconds=timeout_s)
    store.event(
        run_id,
        "feedback.waiting",
        {"iteration": iteration, "timeout_s": timeout_s, "until": until.isoformat()},
    )
    progress("feedback.waiting", {"iteration": iteration})
    deadline = time.monotonic() + timeout_s
    reason = "timeout"
    while time.monotonic() < deadline and not should_cancel():
        if store.continue_given(run_id, iteration):
            reason = "continue"
            break
        time.sleep(POLL_SECONDS)
    if store.run(run_id).status == "waiting_feedback":
        store.set_status(run_id, "running")
        store.event(run_id, "feedback.resumed", {"iteration": iteration, "reason": reason})
