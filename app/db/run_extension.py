"""More iterations for a run that has ended: the search goes on where it stopped, then
the final reward is chosen and tested again over the whole search.

The evolution loop needs nothing new for it: a queued run resumes at its first
unfinished iteration, and the final evaluation runs when the run holds no
record of one. So extending raises the stored iteration count, takes the last
final evaluation out of the run (kept whole in the ``run.extended`` event) and
queues the run again.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.db.dml import affected_rows
from app.db.errors import ConflictError
from app.db.events import add_event
from app.db.feedback import add_feedback
from app.db.models import Candidate, Run, utcnow
from app.db.runs import require_run, set_run_status
from app.db.states import TERMINAL_RUN_STATUSES
from app.run_options import MAX_ITERATIONS, spec_of
from app.run_prepare import RunOptionError, prepare_run

# Rows the final evaluation trains after the search; their iteration numbers
# (the search's count and the one after) are the extension's first iterations.
AFTER_SEARCH_KINDS = ("reselect", "final")
RESULT_COLUMNS = (
    "best_candidate_id",
    "best_fitness",
    "baseline_fitness",
    "sparse_fitness",
    "normalized_score",
)


def extend_run(session: Session, *, run_id: str, more: int) -> Run:
    """Give the run ``more`` iterations after its last and queue it; the caller commits.

    The iterations go on from the run's count (a run of 3 adds iterations 3, 4, ...),
    their first prompt carrying the feedback no prompt has used yet. The final
    evaluation's summary, baselines and score and its retraining rows are removed
    from the run and kept in the ``run.extended`` event, so the one after the new
    iterations replaces them. For a run that waits for feedback, asking for more
    iterations is the person's "continue" after the old last one.

    Raises NotFoundError for no such run, ConflictError for a run that has not
    ended or that a budget stopped (it would stop there again), and
    RunOptionError: with loc ``("iterations",)`` when ``more`` is below 1 or the
    run would pass the maximum iterations or env steps, with another loc when its
    env, card or simulator cannot train here now.
    """
    run = require_run(session, run_id=run_id)
    if run.status not in TERMINAL_RUN_STATUSES:
        raise ConflictError(
            f"run {run_id} is {run.status}; only a run that has ended (succeeded, failed "
            "or cancelled) can be given more iterations"
        )
    budget = (run.final or {}).get("budget")
    if budget:
        raise ConflictError(
            f"run {run_id} {budget.get('message', 'stopped on a budget')}; "
            "more iterations would stop at the same limit"
        )
    previous, status = run.iterations, run.status
    total = _checked_total(run, more)
    # Conditional, so two extensions sent at once cannot both add their iterations.
    if not affected_rows(
        session,
        update(Run)
        .where(Run.id == run_id, Run.status == status, Run.iterations == previous)
        .values(iterations=total, updated_at=utcnow()),
    ):
        raise ConflictError(f"run {run_id} changed while it was being extended; try again")
    session.refresh(run)
    superseded = _supersede_final(session, run)
    if run.feedback_mode == "wait":
        add_feedback(session, run_id=run_id, iteration_index=previous - 1, kind="continue")
    add_event(
        session,
        run_id=run_id,
        kind="run.extended",
        data={
            "previous_iterations": previous,
            "iterations": total,
            "previous_status": status,
            "superseded": superseded,
        },
    )
    return set_run_status(session, run_id=run_id, status="queued")


def _checked_total(run: Run, more: int) -> int:
    """The run's new iteration count, within the bounds a new run has."""
    total = run.iterations + more
    if more < 1 or total > MAX_ITERATIONS:
        room = MAX_ITERATIONS - run.iterations
        allowed = f"1 to {room} more" if room > 0 else "no more: it has the maximum"
        raise RunOptionError(
            ("iterations",),
            f"run {run.id} has {run.iterations} iterations and a run has at most "
            f"{MAX_ITERATIONS}; it can be given {allowed}, not {more}",
            more,
        )
    try:
        prepare_run(spec_of(run).model_copy(update={"iterations": total}))
    except RunOptionError as exc:
        if exc.loc:  # not about the budget: the env or simulator cannot train here now
            raise
        raise RunOptionError(("iterations",), f"{more} more: {exc.message}", more) from None
    except ValueError as exc:  # a custom card that no longer loads
        raise RunOptionError(("card_spec",), str(exc), run.card_spec) from None
    return total


def _supersede_final(session: Session, run: Run) -> dict[str, Any]:
    """Take the final evaluation out of the run; returns all of it, to keep."""
    rows = list(
        session.scalars(
            select(Candidate)
            .where(Candidate.run_id == run.id, Candidate.kind.in_(AFTER_SEARCH_KINDS))
            .order_by(Candidate.iteration_index, Candidate.sample_index)
        )
    )
    kept: dict[str, Any] = {name: getattr(run, name) for name in RESULT_COLUMNS}
    kept["final"] = dict(run.final or {})
    kept["candidates"] = [
        {
            "id": c.id,
            "kind": c.kind,
            "reward_source": c.reward_source,
            "parent_id": c.parent_id,
            "seed": c.seed,
            "status": c.status,
            "fitness": c.fitness,
            "success_rate": c.success_rate,
            "env_steps": c.env_steps,
            "artifact_dir": c.artifact_dir,
        }
        for c in rows
    ]
    # Still spent: the run's env-step budget counts them (store_final.budget_used).
    kept["env_steps"] = sum(c.env_steps for c in rows)
    for row in rows:
        session.delete(row)
    # The search's best stays the run's best until the new final evaluation chooses.
    run.final = {}
    run.baseline_fitness = run.sparse_fitness = run.normalized_score = None
    session.flush()
    return kept
