"""The card's two training settings at a search's budgets: the zoo's (tuned for 1M steps)
against the short-budget ones, side by side.

For each env and seed, PPO trains on the fitness metric used as the reward (the
run's sparse baseline) through rewardforge's sandbox, once with each setting, and
the trusted evaluator scores the policy. Printed per env: the mean fitness and
success of each, and the ratio of their training wall times (one process each,
run one after the other, so machine load hits both alike).

    python bench/short_budget.py --metric backward_distance --timesteps 15000 --seeds 2
    python bench/short_budget.py --tuning short --timesteps 60000   # one side only
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from app.execution.launcher import launch_evaluation, launch_training
from app.run_options import TrainingOptions
from app.run_prepare import training_defaults
from envs import get_card
from envs.card import TrainingDefaults
from envs.zoo import SHORT_BUDGET
from sandbox.spec import EvalSpec, TrainSpec


def settings(env_id: str, tuning: str) -> TrainingDefaults:
    """The card's settings a run with this ``tuning`` trains with."""
    card = get_card(env_id)
    if tuning == "short" and card.short_training is None:
        raise SystemExit(f"{env_id} has no short-budget settings")
    return training_defaults(card, TrainingOptions.model_validate({"tuning": tuning}))


def train_and_score(
    env_id: str, metric: str, tuning: str, timesteps: int, seed: int, out: Path
) -> dict[str, Any]:
    defaults = settings(env_id, tuning)
    train = TrainSpec(
        env_id=env_id,
        fitness_metric=metric,
        output_dir=str(out),
        reward_source="fitness",
        timesteps=timesteps,
        seed=seed,
        **defaults.spec_fields(),
    )
    started = time.monotonic()
    trained = launch_training(train, deadline_s=3600.0, heartbeat_timeout_s=300.0)
    wall = time.monotonic() - started
    if trained.status != "ok":
        raise SystemExit(f"{env_id} {tuning} seed {seed}: training failed: {trained.error}")
    evaluation = EvalSpec(
        env_id=env_id,
        fitness_metric=metric,
        policy_path=str(out / "policy.pt"),
        output_dir=str(out),
        algorithm=defaults.algorithm,
        policy_kwargs=dict(defaults.policy_kwargs),
        video=False,
    )
    scored = launch_evaluation(evaluation, deadline_s=600.0)
    if scored.status != "ok" or scored.report is None:
        raise SystemExit(f"{env_id} {tuning} seed {seed}: evaluation failed: {scored.error}")
    report = scored.report
    return {"fitness": report["fitness"], "success": report["success_rate"], "wall_s": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs", nargs="*", default=sorted(SHORT_BUDGET))
    parser.add_argument("--metric", default="backward_distance")
    parser.add_argument("--timesteps", type=int, default=15_000)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--tuning", choices=["zoo", "short"], nargs="*", default=["zoo", "short"])
    args = parser.parse_args()
    print(f"PPO on {args.metric} as the reward, {args.timesteps} steps, {args.seeds} seed(s)")
    print("| env | tuning | fitness per seed | mean | success | train wall s |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="short-budget-") as tmp:
        for env_id in args.envs:
            walls: dict[str, float] = {}
            for tuning in args.tuning:
                rows = [
                    train_and_score(
                        env_id,
                        args.metric,
                        tuning,
                        args.timesteps,
                        seed,
                        Path(tmp) / f"{env_id}-{tuning}-{seed}",
                    )
                    for seed in range(args.seeds)
                ]
                fitness = [row["fitness"] for row in rows]
                walls[tuning] = statistics.fmean(row["wall_s"] for row in rows)
                print(
                    f"| {env_id} | {tuning} | {', '.join(f'{f:.3g}' for f in fitness)} "
                    f"| {statistics.fmean(fitness):.3g} "
                    f"| {statistics.fmean(row['success'] for row in rows):.0%} "
                    f"| {walls[tuning]:.1f} |",
                    flush=True,
                )
            if len(walls) == 2:
                print(f"| {env_id} | zoo/short wall | | | | {walls['zoo'] / walls['short']:.2f}x |")


if __name__ == "__main__":
    main()
