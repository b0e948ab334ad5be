"""Train and evaluate candidates through an executor, storing each result as
it arrives so that a killed worker loses nothing already finished."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from app.db.models import Candidate, Run
from app.db.repository import add_event
from app.evolution.halving import halving_plan, train_with_halving
from app.evolution.progress import Progress
from app.execution.executor import CandidateJob, CandidateResult, Executor
from envs.card import EnvCard
from sandbox.spec import EvalSpec, RewardBackend, TrainSpec

DEFAULT_DEVICE = "auto"  # CUDA for the policy where the sandbox sees a GPU, else the CPU


def reward_backend(run: Run) -> RewardBackend:
    """What the run's reward code computes with (the ``reward_backend`` option)."""
    return "torch" if (run.options or {}).get("reward_backend") == "torch" else "numpy"


def build_job(*, run: Run, card: EnvCard, candidate: Candidate, artifacts: Path) -> CandidateJob:
    """The sandbox specs of one candidate: card defaults overridden by the run's options."""
    defaults = card.training
    options = run.options or {}
    out = artifacts / run.id / candidate.id
    algorithm = options.get("algorithm") or defaults.algorithm
    same_algo = algorithm == defaults.algorithm
    policy_kwargs = dict(defaults.policy_kwargs) if same_algo else {}
    train = TrainSpec(
        env_id=run.env_id,
        card_spec=run.card_spec,
        fitness_metric=run.fitness_metric,
        output_dir=str(out),
        reward_source=candidate.reward_source,  # type: ignore[arg-type]
        reward_code=candidate.code if candidate.reward_source == "candidate" else None,
        reward_backend=reward_backend(run),
        algorithm=algorithm,
        timesteps=run.timesteps,
        n_envs=int(options.get("n_envs") or defaults.n_envs),
        seed=candidate.seed,
        normalize_obs=defaults.normalize_obs,
        hyperparams=dict(defaults.hyperparams) if same_algo else {},
        policy_kwargs=policy_kwargs,
        device=str(options.get("device") or DEFAULT_DEVICE),
    )
    evaluation = EvalSpec(
        env_id=run.env_id,
        card_spec=run.card_spec,
        fitness_metric=run.fitness_metric,
        policy_path=str(out / "policy.pt"),
        output_dir=str(out),
        algorithm=algorithm,
        policy_kwargs=policy_kwargs,
        episodes=int(options.get("eval_episodes") or 5),
        video=bool(options.get("video", True)),
        device=train.device,
    )
    return CandidateJob(key=candidate.id, train=train, eval=evaluation)


def train_candidates(
    *,
    session_factory: sessionmaker[Session],
    executor: Executor,
    run: Run,
    card: EnvCard,
    candidates: Sequence[Candidate],
    artifacts: Path,
    progress: Progress,
    should_cancel: Callable[[], bool],
) -> None:
    """Train every given candidate (status pending) once, storing results as they land.

    Search candidates go through successive halving when the run's options ask for it.
    """
    plan = halving_plan(run, candidates)  # before claiming: bad options fail here
    jobs = []
    with session_factory() as session:
        for candidate in candidates:
            if _claim(session, candidate.id):
                jobs.append(build_job(run=run, card=card, candidate=candidate, artifacts=artifacts))
                add_event(
                    session,
                    run_id=run.id,
                    kind="candidate.status",
                    data={"id": candidate.id, "status": "training"},
                )
        session.commit()
    if not jobs:
        return

    def on_event(kind: str, data: dict[str, Any]) -> None:
        progress(f"candidate.{kind}", data)

    results = (
        executor.run(jobs, on_event=on_event, should_cancel=should_cancel)
        if plan is None
        else train_with_halving(
            session_factory=session_factory,
            executor=executor,
            run=run,
            card=card,
            jobs=jobs,
            plan=plan,
            progress=progress,
            on_event=on_event,
            should_cancel=should_cancel,
        )
    )
    for result in results:
        with session_factory() as session:
            store_result(session, run_id=run.id, result=result)
            session.commit()
        progress(
            "candidate.result",
            {
                "id": result.key,
                "status": result.status,
                "fitness": result.fitness,
                "error": result.error,
            },
        )


def _claim(session: Session, candidate_id: str) -> bool:
    """pending -> training, only if nobody else moved it (never trained twice at once)."""
    moved = session.execute(
        update(Candidate)
        .where(Candidate.id == candidate_id, Candidate.status == "pending")
        .values(status="training", attempts=Candidate.attempts + 1)
    )
    return moved.rowcount == 1  # type: ignore[attr-defined]


def store_result(session: Session, *, run_id: str, result: CandidateResult) -> None:
    candidate = session.get(Candidate, result.key)
    if candidate is None:
        return
    # cancelled mid-way: pending again, so it trains if the run is resumed
    candidate.status = "pending" if result.status == "cancelled" else result.status
    candidate.error = result.error
    candidate.error_kind = result.error_kind
    candidate.stats = result.stats or {}
    candidate.evaluation = result.evaluation or {}
    candidate.fitness = result.fitness
    candidate.success_rate = result.success_rate
    candidate.env_steps = result.env_steps or 0
    candidate.train_seconds = result.train_seconds
    candidate.sandbox_level = result.sandbox_level
    candidate.artifact_dir = result.artifact_dir
    add_event(
        session,
        run_id=run_id,
        kind="candidate.result",
        data={
            "id": candidate.id,
            "iteration": candidate.iteration_index,
            "sample": candidate.sample_index,
            "kind": candidate.kind,
            "status": candidate.status,
            "fitness": result.fitness,
            "success_rate": result.success_rate,
            "error": (result.error or "")[:500] or None,
        },
    )
