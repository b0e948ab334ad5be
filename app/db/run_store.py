"""The run store: the one writer of a run's rows while it executes.

The evolution loop, successive halving, the workers and the CLI change runs,
iterations, candidates, feedback and events only through these verbs. Each
verb is one transaction, logs the events of what it changed, and hands back
detached rows: snapshots to read, never to write through.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.db.candidates import (
    claim_candidate,
    create_candidate,
    list_candidates,
    record_candidate_progress,
    record_candidate_result,
    reset_unfinished_candidates,
)
from app.db.events import add_event
from app.db.feedback import mark_consumed, pending_feedback
from app.db.iterations import get_iteration, get_or_create_iteration, set_iteration_status
from app.db.llm_calls import DbCallStore
from app.db.models import Candidate, Feedback, Iteration, LLMCall, Run
from app.db.runs import require_run, set_run_status, update_run_results
from app.db.states import COMPARISON_KINDS
from app.run_options import RunSpec, spec_of

RESULT_FIELDS = (
    "stats",
    "evaluation",
    "fitness",
    "success_rate",
    "env_steps",
    "train_seconds",
    "sandbox_level",
    "artifact_dir",
)


class TrainingResult(Protocol):
    """What an executor reports for one candidate (app.execution's CandidateResult)."""

    @property
    def key(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def error(self) -> str | None: ...
    @property
    def error_kind(self) -> str | None: ...
    @property
    def stats(self) -> dict[str, Any]: ...
    @property
    def evaluation(self) -> dict[str, Any]: ...
    @property
    def fitness(self) -> float | None: ...
    @property
    def success_rate(self) -> float | None: ...
    @property
    def env_steps(self) -> int: ...
    @property
    def train_seconds(self) -> float | None: ...
    @property
    def sandbox_level(self) -> str | None: ...
    @property
    def artifact_dir(self) -> str | None: ...


@dataclass(frozen=True)
class CandidateDraft:
    """One LLM answer turned into a candidate: code that passed the gate, or an error."""

    sample_index: int
    response_text: str | None
    code: str | None = None
    code_hash: str | None = None
    status: str = "pending"  # or invalid (extraction, gate) / failed (the LLM gave nothing)
    error_kind: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class ReflectionInputs:
    """What selection and reflection read before iteration ``index``'s prompt."""

    candidates: list[Candidate]  # search candidates of the iterations before it
    unused_feedback: list[Feedback]  # not yet in any prompt, oldest first, any iteration
    preferences: list[Feedback]  # every comparison in the run: preference, tie, both bad


class RunStore:
    """Verbs on one database; every call commits its own transaction."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        with self.session_factory() as session:
            yield session
            session.commit()

    # -- the run -----------------------------------------------------------------------
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

    # -- iterations ----------------------------------------------------------------------
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
                    _copy_result(row, twin)
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
                    _copy_result(row, twin)
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

    # -- candidates --------------------------------------------------------------------
    def claim(self, candidate_id: str) -> bool:
        """pending -> queued, only if nobody else moved it (never trained twice at once);
        it shows as training once its sandbox reports progress."""
        with self._tx() as session:
            return claim_candidate(session, candidate_id=candidate_id, to_status="queued")

    def record_progress(
        self,
        run_id: str,
        candidate_id: str,
        env_steps: int,
        *,
        total: int | None = None,
        stats: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """A candidate's env steps so far (and its statistics, when a checkpoint landed):
        queued -> training on the first report. Logs ``candidate.progress`` with the
        newest checkpoint's means; returns the event, or None for a finished candidate."""
        with self._tx() as session:
            row = record_candidate_progress(
                session, candidate_id=candidate_id, env_steps=env_steps, stats=stats
            )
            if row is None:
                return None
            data: dict[str, Any] = {"id": row.id, "env_steps": row.env_steps, "total": total}
            if stats is not None:
                data["checkpoint"] = _checkpoint_means(stats)
            add_event(session, run_id=run_id, kind="candidate.progress", data=data)
            return data

    def record_result(self, result: TrainingResult) -> Candidate:
        """A candidate's final result. A cancelled one, or one the service's own storage
        failed (error_kind "storage"), goes back to pending: it trains on resume."""
        again = result.status == "cancelled" or result.error_kind == "storage"
        status = "pending" if again else result.status
        with self._tx() as session:
            return record_candidate_result(
                session,
                candidate_id=result.key,
                status=status,
                stats=result.stats or {},
                evaluation=result.evaluation or {},
                fitness=result.fitness,
                success_rate=result.success_rate,
                env_steps=result.env_steps or 0,
                train_seconds=result.train_seconds,
                artifact_dir=result.artifact_dir,
                sandbox_level=result.sandbox_level,
                error_kind=result.error_kind,
                error=result.error,
                overwrite=True,
            )

    def record_rung(self, run_id: str, result: TrainingResult, rung: int) -> dict[str, Any]:
        """A halving rung's result on the row; the status stays training. Returns the event."""
        with self._tx() as session:
            row = session.get(Candidate, result.key)
            assert row is not None
            for name in RESULT_FIELDS:
                setattr(row, name, getattr(result, name))
            row.env_steps = result.env_steps or 0
            data = {
                "id": row.id,
                "rung": rung,
                "fitness": result.fitness,
                "env_steps": row.env_steps,
                "train_seconds": row.train_seconds,
            }
            add_event(session, run_id=run_id, kind="candidate.rung", data=data)
            return data

    def mark_kept(
        self, run_id: str, halving: dict[str, dict[str, Any]], event: dict[str, Any]
    ) -> None:
        """A halving cut: the survivors' rows say so, in one transaction with the event."""
        with self._tx() as session:
            for candidate_id, info in halving.items():
                row = session.get(Candidate, candidate_id)
                assert row is not None
                row.evaluation = {**(row.evaluation or {}), "halving": info}
            add_event(session, run_id=run_id, kind="halving.cut", data=event)

    # -- feedback waits ------------------------------------------------------------------
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

    # -- the final evaluation ----------------------------------------------------------
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
        """Env steps trained (every kind), LLM cost in USD, and when the search began."""
        with self.session_factory() as session:
            steps = session.scalar(
                select(func.coalesce(func.sum(Candidate.env_steps), 0)).where(
                    Candidate.run_id == run_id
                )
            )
            cost = session.scalar(
                select(func.coalesce(func.sum(LLMCall.cost_usd), 0.0)).where(
                    LLMCall.run_id == run_id
                )
            )
            began = session.scalar(
                select(func.min(Iteration.created_at)).where(Iteration.run_id == run_id)
            )
            return int(steps or 0), float(cost or 0.0), began

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


def _checkpoint_means(stats: dict[str, Any]) -> dict[str, Any] | None:
    """The newest checkpoint's step count and means: what a progress event carries."""
    checkpoints = stats.get("checkpoints") or []
    if not checkpoints:
        return None
    last = checkpoints[-1]

    def mean(summary: Any) -> Any:
        return summary.get("mean") if isinstance(summary, dict) else None

    return {
        "steps": last.get("steps"),
        "episodes": last.get("episodes"),
        "reward": mean(last.get("reward")),
        "fitness": mean(last.get("fitness")),
        "components": {k: mean(v) for k, v in (last.get("components") or {}).items()},
    }


def _copy_result(row: Candidate, twin: Candidate) -> None:
    for name in RESULT_FIELDS:
        setattr(row, name, getattr(twin, name))
    row.status = twin.status
