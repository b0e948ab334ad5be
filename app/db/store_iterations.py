"""The run store's verbs for iterations: prompts, candidates, duplicates, closing, waits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from app.db.candidates import (
    create_candidate,
    list_candidates,
)
from app.db.events import add_event
from app.db.feedback import mark_consumed, pending_feedback
from app.db.iterations import get_iteration, get_or_create_iteration, set_iteration_status
from app.db.models import Candidate, Feedback, Iteration
from app.db.runs import update_run_results
from app.db.states import COMPARISON_KINDS
from app.db.store_base import (
    CandidateDraft,
    ReflectionInputs,
    StoreBase,
    copy_result,
)


class IterationVerbs(StoreBase):
    def iteration(self, run_id: str, index: int) -> Iteration | None:
        with self.session_factory() as session:
            return get_iteration(session, run_id=run_id, index=index)

    def begin_iteration(self, run_id: str, index: int) -> Iteration:
        with self._tx() as session:
            return get_or_create_iteration(session, run_id=run_id, index=index)

    def candidates(
        self, run_id: str, *, kind: str = "search", iteration: int | None = None
    ) -> list[Candidate]:
        """The run's candidates of ``kind`` by iteration then sample."""
        with self.session_factory() as session:
            return list_candidates(session, run_id=run_id, kind=kind, iteration_index=iteration)

    def get_candidates(self, ids: Sequence[str]) -> dict[str, Candidate]:
        with self.session_factory() as session:
            rows = session.scalars(select(Candidate).where(Candidate.id.in_(list(ids))))
            return {row.id: row for row in rows}

    def reflection_inputs(self, run_id: str, index: int) -> ReflectionInputs:
        with self.session_factory() as session:
            earlier = [
                c
                for c in list_candidates(session, run_id=run_id, kind="search")
                if c.iteration_index < index
            ]
            preferences = session.scalars(
                select(Feedback)
                .where(Feedback.run_id == run_id, Feedback.kind.in_(COMPARISON_KINDS))
                .order_by(Feedback.id)
            )
            return ReflectionInputs(
                candidates=earlier,
                unused_feedback=pending_feedback(session, run_id=run_id),
                preferences=list(preferences),
            )

    def save_prompt(
        self,
        run_id: str,
        index: int,
        *,
        messages: list[dict[str, Any]],
        parent_id: str | None,
        parent_rule: str | None,
        feedback_ids: Sequence[int],
    ) -> None:
        """Store the prompt before the LLM is asked, and mark the feedback in it used."""
        with self._tx() as session:
            iteration = get_or_create_iteration(session, run_id=run_id, index=index)
            iteration.messages = list(messages)
            iteration.parent_candidate_id = parent_id
            iteration.parent_rule = parent_rule
            iteration.status = "proposing"
            session.flush()
            add_event(
                session,
                run_id=run_id,
                kind="iteration.prompt",
                data={"index": index, "parent_candidate_id": parent_id, "parent_rule": parent_rule},
            )
            mark_consumed(session, run_id=run_id, feedback_ids=list(feedback_ids), iteration=index)

    def add_candidates(
        self,
        run_id: str,
        index: int,
        drafts: Sequence[CandidateDraft],
        *,
        parent_id: str | None,
        seed: int,
    ) -> list[Candidate]:
        with self._tx() as session:
            return [
                create_candidate(
                    session,
                    run_id=run_id,
                    iteration_index=index,
                    sample_index=d.sample_index,
                    seed=seed,
                    parent_id=parent_id,
                    response_text=d.response_text,
                    code=d.code,
                    code_hash=d.code_hash,
                    status=d.status,
                    error_kind=d.error_kind,
                    error=d.error,
                )
                for d in drafts
            ]

    def link_duplicates(self, run_id: str, pending: Sequence[Candidate]) -> list[Candidate]:
        """Identical code (after normalisation) trains once per run: a twin of a trained
        original takes its results now; a twin of one about to train waits for it.
        Returns the candidates left to train."""
        with self._tx() as session:
            trained: dict[str, Candidate] = {}
            for c in list_candidates(session, run_id=run_id, kind="search"):
                if c.status in ("done", "stopped") and c.code_hash and c.duplicate_of is None:
                    trained.setdefault(c.code_hash, c)
            to_train: dict[str, Candidate] = {}
            for item in pending:
                key = item.code_hash or item.id
                twin = trained.get(key) or to_train.get(key)
                if twin is None:
                    to_train[key] = item
                    continue
                row = session.get(Candidate, item.id)
                assert row is not None
                row.duplicate_of = twin.id
                if twin.status in ("done", "stopped"):
                    copy_result(row, twin)
                session.flush()
                add_event(
                    session,
                    run_id=run_id,
                    kind="candidate.duplicate",
                    data={"id": row.id, "duplicate_of": twin.id, "status": row.status},
                )
            return list(to_train.values())

    def set_iteration_status(self, run_id: str, index: int, status: str) -> None:
        with self._tx() as session:
            set_iteration_status(session, run_id=run_id, index=index, status=status)

    def close_iteration(
        self, run_id: str, index: int, *, best_id: str | None, run_best_id: str | None
    ) -> None:
        """The iteration is done: its best, and the run's best so far (both chosen by the
        loop's one rule); twins of candidates trained in it take their results."""
        with self._tx() as session:
            for row in list_candidates(session, run_id=run_id, iteration_index=index):
                twin = session.get(Candidate, row.duplicate_of) if row.duplicate_of else None
                if twin is not None and row.status == "pending":
                    copy_result(row, twin)
            session.flush()
            set_iteration_status(
                session, run_id=run_id, index=index, status="done", best_candidate_id=best_id
            )
            best = session.get(Candidate, best_id) if best_id else None
            run_best = session.get(Candidate, run_best_id) if run_best_id else None
            if run_best is not None:
                update_run_results(
                    session,
                    run_id=run_id,
                    best_candidate_id=run_best.id,
                    best_fitness=run_best.fitness,
                )
            add_event(
                session,
                run_id=run_id,
                kind="iteration.done",
                data={
                    "index": index,
                    "best_candidate_id": best_id,
                    "best_fitness": best.fitness if best else None,
                    "run_best_fitness": run_best.fitness if run_best else None,
                },
            )

    def continue_given(self, run_id: str, index: int) -> bool:
        """A person said continue after ``index``, or the run already moved past it."""
        with self.session_factory() as session:
            said = session.scalars(
                select(Feedback.id).where(
                    Feedback.run_id == run_id,
                    Feedback.kind == "continue",
                    Feedback.iteration_index == index,
                )
            ).first()
            return (
                said is not None
                or get_iteration(session, run_id=run_id, index=index + 1) is not None
            )
