"""One reward-evolution run: propose -> validate -> train -> evaluate -> select
-> reflect, for N iterations, then the final retraining against the baselines.

Every step is written to the database as it happens, and every step first looks
at what is already there, so running ``execute_run`` again on an interrupted run
resumes at the first unfinished piece: no finished candidate is retrained and no
LLM request is paid for twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.db.models import Candidate, Iteration, Run
from app.db.repository import add_event, reset_unfinished_candidates, set_run_status
from app.evolution.feedback_wait import wait_for_feedback
from app.evolution.finalize import ensure_final_candidates, summarize
from app.evolution.progress import Progress, ignore_progress
from app.evolution.propose import candidates_from_responses
from app.evolution.reflection import build_reflection, choose_parent, search_candidates
from app.evolution.training import reward_backend, train_candidates
from app.execution.executor import Executor
from app.llm.prompting import build_messages
from app.llm.proposer import Proposer
from envs import get_card
from envs.card import EnvCard, FitnessMetric

TERMINAL = ("succeeded", "failed", "cancelled")


class RunCancelled(Exception):
    """The run was cancelled (or its lease was lost) while it ran."""


@dataclass
class RunContext:
    session_factory: sessionmaker[Session]
    executor: Executor
    proposer_for: Callable[[Run], Proposer]  # the proposer for this run's LLM settings
    artifacts: Path
    progress: Progress = ignore_progress
    should_cancel: Callable[[], bool] = field(default=lambda: False)
    owns_run: Callable[[], bool] = field(default=lambda: True)  # False once the lease is lost


def execute_run(ctx: RunContext, run_id: str) -> str:
    """Run (or resume) ``run_id`` to the end; returns its final status."""
    with ctx.session_factory() as session:
        run = _get_run(session, run_id)
        if run.status in TERMINAL:
            return run.status
        card = get_card(run.env_id, run.card_spec)
        metric = card.metric(run.fitness_metric)
        reset_unfinished_candidates(session, run_id=run_id)
        set_run_status(session, run_id=run_id, status="running")
        session.commit()
        proposer = ctx.proposer_for(run)
    try:
        for index in range(run.iterations):
            _check_cancel(ctx)
            _run_iteration(ctx, run, card, metric, proposer, index)
            if run.feedback_mode == "wait" and index < run.iterations - 1:
                wait_for_feedback(
                    ctx.session_factory,
                    run=run,
                    iteration=index,
                    should_cancel=ctx.should_cancel,
                    progress=ctx.progress,
                )
        _check_cancel(ctx)
        _finalize(ctx, run, card, metric)
    except RunCancelled:
        if not ctx.owns_run():
            return "lease lost"  # another worker has the run now; leave its rows alone
        with ctx.session_factory() as session:
            reset_unfinished_candidates(session, run_id=run_id)
            cancelled = _get_run(session, run_id).cancel_requested
            status = "cancelled" if cancelled else "queued"
            set_run_status(session, run_id=run_id, status=status)
            session.commit()
        return status
    with ctx.session_factory() as session:
        return _get_run(session, run_id).status


def _get_run(session: Session, run_id: str) -> Run:
    run = session.get(Run, run_id)
    if run is None:
        raise KeyError(f"no run with id {run_id!r}")
    session.expunge(run)
    return run


def _check_cancel(ctx: RunContext) -> None:
    if ctx.should_cancel():
        raise RunCancelled


def _run_iteration(
    ctx: RunContext, run: Run, card: EnvCard, metric: FitnessMetric, proposer: Proposer, index: int
) -> None:
    with ctx.session_factory() as session:
        iteration = _get_or_create_iteration(session, run.id, index)
        if iteration.status == "done":
            return
        ctx.progress("iteration.started", {"index": index, "total": run.iterations})
        add_event(session, run_id=run.id, kind="iteration.started", data={"index": index})
        candidates = [c for c in search_candidates(session, run.id) if c.iteration_index == index]
        if not candidates:
            candidates = _propose(ctx, session, run, card, metric, proposer, iteration)
        pending = _dedupe([c for c in candidates if c.status == "pending"], session, run.id)
        iteration.status = "training"
        session.commit()
        for candidate in pending:
            session.expunge(candidate)
    train_candidates(
        session_factory=ctx.session_factory,
        executor=ctx.executor,
        run=run,
        card=card,
        candidates=pending,
        artifacts=ctx.artifacts,
        progress=ctx.progress,
        should_cancel=ctx.should_cancel,
    )
    _check_cancel(ctx)
    with ctx.session_factory() as session:
        _close_iteration(session, run, metric, index)
        session.commit()


def _get_or_create_iteration(session: Session, run_id: str, index: int) -> Iteration:
    found = session.scalars(
        select(Iteration).where(Iteration.run_id == run_id, Iteration.index == index)
    ).first()
    if found is not None:
        return found
    iteration = Iteration(run_id=run_id, index=index)
    session.add(iteration)
    session.flush()
    return iteration


def _propose(
    ctx: RunContext,
    session: Session,
    run: Run,
    card: EnvCard,
    metric: FitnessMetric,
    proposer: Proposer,
    iteration: Iteration,
) -> list[Candidate]:
    higher = metric.higher_is_better
    reflection = build_reflection(
        session, run_id=run.id, iteration=iteration.index, higher_is_better=higher
    )
    parent, _ = choose_parent(
        session, run_id=run.id, iteration=iteration.index, higher_is_better=higher
    )
    backend = reward_backend(run)
    messages = build_messages(
        card=card, metric=metric, task=run.task, reflection=reflection, reward_backend=backend
    )
    iteration.messages = messages
    iteration.parent_candidate_id = parent.id if parent and iteration.index else None
    iteration.status = "proposing"
    session.commit()  # the prompt is stored before the LLM is asked
    ctx.progress("llm.request", {"iteration": iteration.index, "samples": run.samples})
    responses = proposer.propose(
        messages=messages,
        n=run.samples,
        iteration=iteration.index,
        seed=run.seed,
        parent_code=parent.code if parent and iteration.index else None,
    )
    made = candidates_from_responses(
        session,
        run_id=run.id,
        iteration=iteration.index,
        responses=responses,
        parent_id=iteration.parent_candidate_id,
        seed=run.seed,
        backend=backend,
    )
    for candidate in made:
        add_event(
            session,
            run_id=run.id,
            kind="candidate.created",
            data={
                "id": candidate.id,
                "iteration": iteration.index,
                "sample": candidate.sample_index,
                "status": candidate.status,
                "error": candidate.error,
            },
        )
    return made


def _dedupe(pending: list[Candidate], session: Session, run_id: str) -> list[Candidate]:
    """Identical code (after normalisation) is trained once per run."""
    trained: dict[str, Candidate] = {}
    for c in search_candidates(session, run_id):  # originals only, the earliest first
        if c.status in ("done", "stopped") and c.code_hash and c.duplicate_of is None:
            trained.setdefault(c.code_hash, c)
    to_train: dict[str, Candidate] = {}
    for candidate in pending:
        twin = trained.get(candidate.code_hash or "") or to_train.get(candidate.code_hash or "")
        if twin is None:
            to_train[candidate.code_hash or candidate.id] = candidate
            continue
        candidate.duplicate_of = twin.id
        if twin.status in ("done", "stopped"):
            _copy_result(candidate, twin)
    return list(to_train.values())


def _copy_result(candidate: Candidate, twin: Candidate) -> None:
    for name in (
        "stats",
        "evaluation",
        "fitness",
        "success_rate",
        "env_steps",
        "train_seconds",
        "sandbox_level",
        "artifact_dir",
    ):
        setattr(candidate, name, getattr(twin, name))
    candidate.status = twin.status


def _close_iteration(session: Session, run: Run, metric: FitnessMetric, index: int) -> None:
    rows = [c for c in search_candidates(session, run.id) if c.iteration_index == index]
    for row in rows:  # twins of candidates trained in this same iteration
        twin = session.get(Candidate, row.duplicate_of) if row.duplicate_of else None
        if twin is not None and row.status == "pending" and twin.status in ("done", "stopped"):
            _copy_result(row, twin)
    scored = [c for c in rows if c.fitness is not None and c.status == "done"]
    sign = 1.0 if metric.higher_is_better else -1.0
    best = max(scored, key=lambda c: sign * (c.fitness or 0.0), default=None)
    iteration = _get_or_create_iteration(session, run.id, index)
    iteration.best_candidate_id = best.id if best else None
    iteration.status = "done"
    stored = session.get(Run, run.id)
    assert stored is not None
    if best is not None and (
        stored.best_fitness is None or sign * (best.fitness or 0.0) > sign * stored.best_fitness
    ):
        stored.best_candidate_id, stored.best_fitness = best.id, best.fitness
    add_event(
        session,
        run_id=run.id,
        kind="iteration.done",
        data={
            "index": index,
            "best_candidate_id": iteration.best_candidate_id,
            "best_fitness": best.fitness if best else None,
            "run_best_fitness": stored.best_fitness,
        },
    )


def _finalize(ctx: RunContext, run: Run, card: EnvCard, metric: FitnessMetric) -> None:
    with ctx.session_factory() as session:
        stored = session.get(Run, run.id)
        assert stored is not None
        best = (
            session.get(Candidate, stored.best_candidate_id) if stored.best_candidate_id else None
        )
        if best is None:
            set_run_status(
                session,
                run_id=run.id,
                status="failed",
                error="no candidate trained successfully; see the candidates' errors",
            )
            session.commit()
            return
        if stored.final_seeds == 0:  # the user skipped the comparison with the baselines
            set_run_status(session, run_id=run.id, status="succeeded")
            session.commit()
            return
        set_run_status(session, run_id=run.id, status="finalizing")
        finals = ensure_final_candidates(session, run=stored, best=best)
        pending = [c for c in finals if c.status == "pending"]
        session.commit()
        for candidate in pending:
            session.expunge(candidate)
    ctx.progress("final.started", {"trainings": len(pending)})
    train_candidates(
        session_factory=ctx.session_factory,
        executor=ctx.executor,
        run=run,
        card=card,
        candidates=pending,
        artifacts=ctx.artifacts,
        progress=ctx.progress,
        should_cancel=ctx.should_cancel,
    )
    _check_cancel(ctx)
    with ctx.session_factory() as session:
        stored = session.get(Run, run.id)
        assert stored is not None
        finals = list(
            session.scalars(
                select(Candidate).where(Candidate.run_id == run.id, Candidate.kind == "final")
            )
        )
        summary = summarize(stored, finals, higher_is_better=metric.higher_is_better)
        stored.final = summary
        stored.baseline_fitness = summary["env"]["mean"]
        stored.sparse_fitness = summary["fitness"]["mean"]
        stored.normalized_score = summary["normalized_score"]
        set_run_status(session, run_id=run.id, status="succeeded")
        session.commit()
