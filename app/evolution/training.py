"""Train and evaluate candidates through an executor, storing each result as
it arrives so that a killed worker loses nothing already finished."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from app.db.models import Candidate
from app.db.run_store import RunStore
from app.evolution.halving import halving_plan, train_with_halving
from app.evolution.live_progress import LiveProgress
from app.evolution.progress import Progress
from app.execution.executor import CandidateJob, Executor
from app.run_options import RunSpec
from app.run_prepare import training_defaults
from envs.card import EnvCard
from sandbox.spec import EvalSpec, TrainSpec

STORAGE_ERROR = "storage"  # the executor's error_kind for the service's own disk failing


class StorageFault(Exception):
    """The service's own storage failed (read-only, full, I/O error): not the candidate's
    fault. The run stops, resumable; the candidates hit go back to pending."""


def build_job(
    *,
    run_id: str,
    spec: RunSpec,
    card: EnvCard,
    candidate: Candidate,
    artifacts: Path,
    screen_archive: Path | None = None,
) -> CandidateJob:
    """The sandbox specs of one candidate: card defaults overridden by the run's options.

    A search candidate's evaluation records its episodes for the screening archive
    (when the run screens), and an evolved reward is screened on ``screen_archive``.
    """
    options = spec.options
    defaults = training_defaults(card, options)
    search = candidate.kind == "search"
    screened = search and candidate.reward_source == "candidate" and screen_archive is not None
    out = artifacts / run_id / candidate.id
    algorithm = options.algorithm or defaults.algorithm
    same_algo = algorithm == defaults.algorithm
    policy_kwargs = dict(defaults.policy_kwargs) if same_algo else {}
    assert spec.fitness_metric is not None and spec.timesteps is not None  # a stored run's
    train = TrainSpec(
        env_id=spec.env_id,
        card_spec=spec.card_spec,
        fitness_metric=spec.fitness_metric,
        output_dir=str(out),
        reward_source=candidate.reward_source,  # type: ignore[arg-type]
        reward_code=candidate.code if candidate.reward_source == "candidate" else None,
        reward_backend=options.reward_backend,
        algorithm=algorithm,
        timesteps=spec.timesteps,
        n_envs=options.n_envs or defaults.n_envs,
        seed=candidate.seed,
        normalize_obs=defaults.normalize_obs,
        hyperparams=dict(defaults.hyperparams) if same_algo else {},
        policy_kwargs=policy_kwargs,
        tuned_n_envs=defaults.n_envs,
        device=options.device,
        simulator=options.simulator,
        screen_archive=str(screen_archive) if screened else None,
        screen_min_correlation=options.screen_min_correlation if screened else None,
    )
    # The evaluator always steps Gymnasium's own env: the trusted ground truth, whichever
    # simulator the policy trained on.
    evaluation = EvalSpec(
        env_id=spec.env_id,
        card_spec=spec.card_spec,
        fitness_metric=spec.fitness_metric,
        policy_path=str(out / "policy.pt"),
        output_dir=str(out),
        algorithm=algorithm,
        policy_kwargs=policy_kwargs,
        episodes=options.eval_episodes,
        video=options.video,
        device=train.device,
        record_episodes=search and options.screening,
    )
    return CandidateJob(key=candidate.id, train=train, eval=evaluation)


def train_candidates(
    *,
    store: RunStore,
    executor: Executor,
    run_id: str,
    spec: RunSpec,
    card: EnvCard,
    candidates: Sequence[Candidate],
    artifacts: Path,
    progress: Progress,
    should_cancel: Callable[[], bool],
    screen_archive: Path | None = None,
) -> None:
    """Train every given candidate (status pending) once, storing results as they land.

    Search candidates go through successive halving when the run's options ask for it,
    and are screened on ``screen_archive`` when one is given.
    """
    plan = halving_plan(spec, candidates)
    jobs = [
        build_job(
            run_id=run_id,
            spec=spec,
            card=card,
            candidate=c,
            artifacts=artifacts,
            screen_archive=screen_archive,
        )
        for c in candidates
        if store.claim(c.id)
    ]
    if not jobs:
        return

    live = LiveProgress(store, run_id, jobs)
    kinds = {c.id: c.kind for c in candidates}

    def on_event(kind: str, data: dict[str, Any]) -> None:
        live(kind, data)
        progress(f"candidate.{kind}", data)

    results = (
        executor.run(jobs, on_event=on_event, should_cancel=should_cancel)
        if plan is None
        else train_with_halving(
            store=store,
            executor=executor,
            run_id=run_id,
            higher_is_better=card.metric(spec.metric_name).higher_is_better,
            jobs=jobs,
            plan=plan,
            progress=progress,
            on_event=on_event,
            should_cancel=should_cancel,
        )
    )
    try:
        for result in results:
            store.record_result(result)
            if result.error_kind == STORAGE_ERROR:
                raise StorageFault(result.error or "the service's storage failed")
            progress(
                "candidate.result",
                {
                    "id": result.key,
                    "kind": kinds.get(result.key),
                    "status": result.status,
                    "fitness": result.fitness,
                    "error": result.error,
                },
            )
    finally:
        # Stops the sandboxes still running, now rather than whenever the generator is
        # collected, whatever ended the loop (a storage fault, the database, cancel).
        close = getattr(results, "close", None)
        if close is not None:
            close()
