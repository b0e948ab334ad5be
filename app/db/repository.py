"""One import for the persistence functions the CLI, the worker, the loop and the API use.

Every function takes a Session and keyword-only arguments, flushes but never
commits (the caller owns the transaction), and logs an Event for each state
change it makes. The functions live in one module per concept.
"""

from __future__ import annotations

from app.db.candidates import (
    claim_candidate,
    create_candidate,
    get_candidate,
    list_candidates,
    record_candidate_result,
    require_candidate,
    reset_unfinished_candidates,
)
from app.db.errors import ConflictError, NotFoundError
from app.db.events import add_event, events_after
from app.db.feedback import add_feedback, mark_consumed, pending_feedback
from app.db.iterations import (
    get_iteration,
    get_or_create_iteration,
    list_iterations,
    set_iteration_status,
)
from app.db.leases import claim_run, release_lease, renew_lease
from app.db.llm_calls import DbCallStore, llm_usage, record_llm_call, stored_responses
from app.db.run_extension import extend_run
from app.db.runs import (
    create_run,
    delete_run,
    get_run,
    list_runs,
    request_cancel,
    require_run,
    set_run_status,
    update_run_results,
)

__all__ = [
    "ConflictError",
    "DbCallStore",
    "NotFoundError",
    "add_event",
    "add_feedback",
    "claim_candidate",
    "claim_run",
    "create_candidate",
    "create_run",
    "delete_run",
    "events_after",
    "extend_run",
    "get_candidate",
    "get_iteration",
    "get_or_create_iteration",
    "get_run",
    "list_candidates",
    "list_iterations",
    "list_runs",
    "llm_usage",
    "mark_consumed",
    "pending_feedback",
    "record_candidate_result",
    "record_llm_call",
    "release_lease",
    "renew_lease",
    "request_cancel",
    "require_candidate",
    "require_run",
    "reset_unfinished_candidates",
    "set_iteration_status",
    "set_run_status",
    "stored_responses",
    "update_run_results",
]
