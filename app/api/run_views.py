"""What the run routes do beyond one repository call: the detail view, resume, extend,
cleanup."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy.orm import Session

from app.api.errors import invalid_field
from app.api.queries import finished_counts, list_totals, screened_count
from app.api.schemas.candidates import CandidateSummary
from app.api.schemas.runs import RunDetail, RunListItem, RunProgress, RunRead, Screening
from app.api.schemas.usage import UsageTotals
from app.db.errors import ConflictError
from app.db.models import Run
from app.db.repository import (
    extend_run,
    get_candidate,
    llm_usage,
    require_run,
    set_run_status,
)
from app.run_options import spec_of
from app.run_prepare import RunOptionError, env_reward_is_baseline, final_trainings
from envs import get_card

RESUMABLE_STATUSES = ("failed", "cancelled")


def run_detail(session: Session, *, run: Run) -> RunDetail:
    """The run with its best candidate, progress and LLM cost."""
    iterations_done, candidates_done = finished_counts(session, run_id=run.id)
    best = (
        get_candidate(session, candidate_id=run.best_candidate_id)
        if run.best_candidate_id
        else None
    )
    return RunDetail(
        **RunRead.model_validate(run).model_dump(),
        baseline_fitness=run.baseline_fitness,
        sparse_fitness=run.sparse_fitness,
        final=run.final or {},
        env_reward_is_baseline=_env_is_baseline(run),
        winner_changed=((run.final or {}).get("reselection") or {}).get("winner_changed"),
        budget_stop=(run.final or {}).get("budget"),
        best_candidate=CandidateSummary.model_validate(best) if best else None,
        progress=_progress(run, iterations_done, candidates_done),
        screening=_screening(session, run),
        cost=UsageTotals(**llm_usage(session, run_id=run.id)),
    )


def run_list_items(session: Session, runs: list[Run]) -> list[RunListItem]:
    """A page of runs, each with its progress and LLM cost (a few queries in all)."""
    totals = list_totals(session, [run.id for run in runs])
    items = []
    for run in runs:
        iterations_done, candidates_done, cost = totals[run.id]
        items.append(
            RunListItem(
                **RunRead.model_validate(run).model_dump(),
                progress=_progress(run, iterations_done, candidates_done),
                cost_usd=cost,
            )
        )
    return items


def _progress(run: Run, iterations_done: int, candidates_done: int) -> RunProgress:
    return RunProgress(
        iterations_done=iterations_done,
        iterations_total=run.iterations,
        candidates_done=candidates_done,
        candidates_total=run.iterations * run.samples + final_trainings(spec_of(run)),
    )


def _screening(session: Session, run: Run) -> Screening:
    screened = screened_count(session, run_id=run.id)
    return Screening(
        threshold=spec_of(run).options.screen_min_correlation,
        screened=screened,
        env_steps_saved=screened * run.timesteps,
    )


def _env_is_baseline(run: Run) -> bool:
    """As the final test recorded it, else from the run's options and its card."""
    recorded = (run.final or {}).get("env_is_baseline")
    if recorded is not None:
        return bool(recorded)
    try:
        default = get_card(run.env_id, run.card_spec).default_metric.name
    except (KeyError, ValueError):  # a custom card that no longer loads
        default = run.fitness_metric
    return env_reward_is_baseline(spec_of(run), default)


def resume_run(session: Session, *, run_id: str) -> Run:
    """Queue a failed or cancelled run again; a worker resumes it where it stopped.

    Raises ConflictError for a run in any other status.
    """
    run = require_run(session, run_id=run_id)
    if run.status not in RESUMABLE_STATUSES:
        raise ConflictError(
            f"run {run_id} is {run.status}; only failed or cancelled runs can be resumed"
        )
    return set_run_status(session, run_id=run_id, status="queued")


def more_iterations(session: Session, *, run_id: str, more: int) -> Run:
    """Give a run that has ended ``more`` iterations and queue it (see ``extend_run``).

    Raises a 422 at ``iterations`` for a total over the bounds, and ConflictError
    for a run that has not ended, that a budget stopped, or that cannot train here now.
    """
    try:
        return extend_run(session, run_id=run_id, more=more)
    except RunOptionError as exc:
        if exc.loc == ("iterations",):
            raise invalid_field(("body", "iterations"), exc.message, exc.value) from None
        raise ConflictError(f"run {run_id} cannot train here now: {exc.message}") from None


def remove_artifacts(artifacts_dir: Path, *, run_id: str) -> bool:
    """Delete the run's artifacts folder (videos, weights); True if there was one."""
    folder = (artifacts_dir / run_id).resolve()
    # run_id matched the id pattern, so this stays inside artifacts_dir; check anyway.
    if folder.parent != artifacts_dir.resolve() or not folder.is_dir():
        return False
    shutil.rmtree(folder, ignore_errors=True)
    return True
