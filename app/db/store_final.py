"""The run store's verbs after the search: top-k retraining, the final test, budgets."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from app.db.candidates import (
    create_candidate,
    list_candidates,
)
from app.db.events import add_event
from app.db.models import Candidate, Event, Iteration, LLMCall
from app.db.runs import require_run, set_run_status, update_run_results
from app.db.store_base import (
    StoreBase,
)


class FinalVerbs(StoreBase):
    def ensure_finals(
        self, run_id: str, *, best_id: str, sources: Sequence[str], seed_base: int
    ) -> list[Candidate]:
        """Create (once) the final trainings: every reward source x every final seed."""
        with self._tx() as session:
            existing = list_candidates(session, run_id=run_id, kind="final")
            if existing:
                return existing
            run = require_run(session, run_id=run_id)
            best = session.get(Candidate, best_id)
            assert best is not None
            return [
                create_candidate(
                    session,
                    run_id=run_id,
                    iteration_index=run.iterations,  # after the search iterations
                    sample_index=source_index * run.final_seeds + seed_index,
                    kind="final",
                    reward_source=source,
                    seed=seed_base + seed_index,
                    parent_id=best.id if source == "candidate" else None,
                    code=best.code if source == "candidate" else None,
                    code_hash=best.code_hash if source == "candidate" else None,
                )
                for source_index, source in enumerate(sources)
                for seed_index in range(run.final_seeds)
            ]

    def ensure_reselections(
        self, run_id: str, *, top_ids: Sequence[str], seeds: int, seed_base: int
    ) -> list[Candidate]:
        """Create (once) the retrainings of the top search candidates, ``seeds`` each, on
        seeds no search candidate used (kind "reselect", parent: the candidate)."""
        with self._tx() as session:
            existing = list_candidates(session, run_id=run_id, kind="reselect")
            if existing:
                return existing
            run = require_run(session, run_id=run_id)
            rows = []
            for rank, candidate_id in enumerate(top_ids):
                best = session.get(Candidate, candidate_id)
                assert best is not None
                rows += [
                    create_candidate(
                        session,
                        run_id=run_id,
                        # after the search iterations and apart from the final test's rows
                        iteration_index=run.iterations + 1,
                        sample_index=rank * seeds + seed_index,
                        kind="reselect",
                        seed=seed_base + seed_index,
                        parent_id=best.id,
                        code=best.code,
                        code_hash=best.code_hash,
                    )
                    for seed_index in range(seeds)
                ]
            return rows

    def choose_final(self, run_id: str, *, best_id: str, reselection: dict[str, Any]) -> None:
        """The reward the final test and export use: the best mean of the reselection."""
        with self._tx() as session:
            run = require_run(session, run_id=run_id)
            best = session.get(Candidate, best_id)
            assert best is not None
            update_run_results(
                session,
                run_id=run_id,
                best_candidate_id=best.id,
                best_fitness=best.fitness,
                final={**(run.final or {}), "reselection": reselection},
            )
            add_event(session, run_id=run_id, kind="run.reselected", data=reselection)

    def budget_used(self, run_id: str) -> tuple[int, float, datetime | None]:
        """Env steps trained (every kind, and the final evaluations an extension
        replaced), LLM cost in USD, and when the search began."""
        with self.session_factory() as session:
            steps = session.scalar(
                select(func.coalesce(func.sum(Candidate.env_steps), 0)).where(
                    Candidate.run_id == run_id
                )
            )
            replaced = session.scalars(
                select(Event.data).where(Event.run_id == run_id, Event.kind == "run.extended")
            )
            steps = int(steps or 0) + sum(int(d["superseded"]["env_steps"]) for d in replaced)
            cost = session.scalar(
                select(func.coalesce(func.sum(LLMCall.cost_usd), 0.0)).where(
                    LLMCall.run_id == run_id
                )
            )
            began = session.scalar(
                select(func.min(Iteration.created_at)).where(Iteration.run_id == run_id)
            )
            return steps, float(cost or 0.0), began

    def stop_search(self, run_id: str, reason: dict[str, Any]) -> None:
        """A budget ran out: no more iterations; the run finalises what it has."""
        with self._tx() as session:
            run = require_run(session, run_id=run_id)
            update_run_results(
                session, run_id=run_id, final={**(run.final or {}), "budget": reason}
            )
            add_event(session, run_id=run_id, kind="run.budget", data=reason)

    def finish(self, run_id: str, final: dict[str, Any] | None = None) -> None:
        """The run succeeded; ``final`` is the final evaluation's summary, if one ran (kept
        beside what the run already noted there: the reselection, a budget stop)."""
        with self._tx() as session:
            if final is not None:
                run = require_run(session, run_id=run_id)
                update_run_results(
                    session,
                    run_id=run_id,
                    final={**(run.final or {}), **final},
                    baseline_fitness=final["env"]["mean"],
                    sparse_fitness=final["fitness"]["mean"],
                    normalized_score=final["normalized_score"],
                )
            set_run_status(session, run_id=run_id, status="succeeded")
