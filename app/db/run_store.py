"""The run store: the one writer of a run's rows while it executes.

The evolution loop, successive halving, the workers and the CLI change runs,
iterations, candidates, feedback and events only through these verbs. Each
verb is one transaction, logs the events of what it changed, and hands back
detached rows: snapshots to read, never to write through. The verbs live in
one module per stage (store_iterations, store_training, store_final); this
module has the run's own and puts them together.
"""

from __future__ import annotations

from typing import Any

from app.db.candidates import (
    reset_unfinished_candidates,
)
from app.db.events import add_event
from app.db.llm_calls import DbCallStore
from app.db.models import Run
from app.db.runs import require_run, set_run_status
from app.db.store_base import CandidateDraft, ReflectionInputs, TrainingResult
from app.db.store_final import FinalVerbs
from app.db.store_iterations import IterationVerbs
from app.db.store_training import TrainingVerbs
from app.run_options import RunSpec, spec_of

__all__ = ["CandidateDraft", "ReflectionInputs", "RunStore", "TrainingResult"]


class RunStore(IterationVerbs, TrainingVerbs, FinalVerbs):
    """Verbs on one database; every call commits its own transaction."""

    def run(self, run_id: str) -> Run:
        with self.session_factory() as session:
            return require_run(session, run_id=run_id)

    def spec(self, run_id: str) -> RunSpec:
        return spec_of(self.run(run_id))

    def start(self, run_id: str) -> Run:
        """Mark the run running; candidates a dead worker left mid-training go back to pending."""
        with self._tx() as session:
            reset_unfinished_candidates(session, run_id=run_id)
            return set_run_status(session, run_id=run_id, status="running")

    def stop(self, run_id: str) -> str:
        """Stop a run mid-way: cancelled if a person asked, else queued (resumable)."""
        with self._tx() as session:
            reset_unfinished_candidates(session, run_id=run_id)
            status = (
                "cancelled" if require_run(session, run_id=run_id).cancel_requested else "queued"
            )
            set_run_status(session, run_id=run_id, status=status)
            return status

    def fail(self, run_id: str, error: str) -> str:
        """Stop a run on an error outside its candidates; it stays resumable (failed runs
        can be queued again) and unfinished candidates train again then."""
        with self._tx() as session:
            reset_unfinished_candidates(session, run_id=run_id)
            set_run_status(session, run_id=run_id, status="failed", error=error)
            return "failed"

    def set_status(self, run_id: str, status: str, error: str | None = None) -> None:
        with self._tx() as session:
            set_run_status(session, run_id=run_id, status=status, error=error)

    def event(self, run_id: str, kind: str, data: dict[str, Any]) -> None:
        with self._tx() as session:
            add_event(session, run_id=run_id, kind=kind, data=data)

    def call_store(self, run_id: str) -> DbCallStore:
        """Where the run's LLM calls are stored (and answered from on resume)."""
        return DbCallStore(self.session_factory, run_id=run_id)
