"""What the run routes do beyond one repository call: the detail view, resume, cleanup."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy.orm import Session

from app.api.queries import finished_counts
from app.api.schemas.candidates import CandidateSummary
from app.api.schemas.runs import FINAL_SOURCES, RunDetail, RunProgress, RunRead
from app.api.schemas.usage import UsageTotals
from app.db.errors import ConflictError
from app.db.models import Run
from app.db.repository import get_candidate, llm_usage, require_run, set_run_status

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
        best_candidate=CandidateSummary.model_validate(best) if best else None,
        progress=RunProgress(
            iterations_done=iterations_done,
            iterations_total=run.iterations,
            candidates_done=candidates_done,
            candidates_total=run.iterations * run.samples + FINAL_SOURCES * run.final_seeds,
        ),
        cost=UsageTotals(**llm_usage(session, run_id=run.id)),
    )


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


def remove_artifacts(artifacts_dir: Path, *, run_id: str) -> bool:
    """Delete the run's artifacts folder (videos, weights); True if there was one."""
    folder = (artifacts_dir / run_id).resolve()
    # run_id matched the id pattern, so this stays inside artifacts_dir; check anyway.
    if folder.parent != artifacts_dir.resolve() or not folder.is_dir():
        return False
    shutil.rmtree(folder, ignore_errors=True)
    return True
