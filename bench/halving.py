"""Successive halving against full training of every candidate, on fixed seeds.

Two one-iteration runs with the same seed, so the offline proposer writes the
same K reward functions for both: one trains every candidate to the full budget,
the other halves (rungs at 0.25, 0.5 and 1.0 of the budget, half kept at each
cut, survivors continuing from their checkpoints). Both use the same local
executor, one after the other, in one process.

    python bench/halving.py --env CartPole-v1 --samples 8 --timesteps 16384

Prints the best fitness each found, whether both found the same candidate (or
one tied with it under full training), and the env steps and wall time each
spent. Target: the same best candidate with at most half the env steps.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.config import Settings
from app.db.models import Candidate
from app.db.run_store import RunStore
from app.db.runs import create_run
from app.db.session import make_engine, make_session_factory, upgrade_database
from app.evolution.loop import execute_run
from app.evolution.runner import make_context
from app.execution.local import LocalExecutor
from envs import get_card


def run_once(args: argparse.Namespace, data_dir: Path, halving: bool) -> dict[str, Any]:
    """One search iteration; returns its candidates' fitness and steps and its wall time."""
    url = f"sqlite:///{data_dir / 'rewardforge.db'}"
    data_dir.mkdir(parents=True)
    upgrade_database(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    card = get_card(args.env)
    with factory() as session:
        run = create_run(
            session,
            env_id=args.env,
            task="solve the task as its fitness metric measures it",
            fitness_metric=card.default_metric.name,
            iterations=1,
            samples=args.samples,
            timesteps=args.timesteps,
            final_seeds=0,
            seed=args.seed,
            llm={"offline": True},
            options={"halving": halving, "eval_episodes": args.eval_episodes, "video": False},
        )
        session.commit()
        run_id = run.id
    settings = Settings(data_dir=data_dir, database_url=url)
    ctx = make_context(
        settings=settings, store=RunStore(factory), executor=LocalExecutor(args.workers)
    )
    start = time.monotonic()
    status = execute_run(ctx, run_id)
    seconds = time.monotonic() - start
    if status != "succeeded":
        raise SystemExit(f"the {'halving' if halving else 'full'} run ended {status}")
    with factory() as session:
        rows = session.scalars(select(Candidate).where(Candidate.run_id == run_id))
        fitness = {c.code_hash: (c.fitness, c.status, c.sample_index) for c in rows}
        steps = sum(c.env_steps for c in session.scalars(select(Candidate)))
    engine.dispose()
    done = {h: f for h, (f, status, _) in fitness.items() if status == "done" and f is not None}
    best = max(done, key=lambda h: done[h] if card.default_metric.higher_is_better else -done[h])
    return {
        "best": best,
        "best_fitness": done[best],
        "best_sample": fitness[best][2],
        "fitness": {h: f for h, (f, _, _) in fitness.items()},
        "steps": steps,
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--timesteps", type=int, default=16384)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-episodes", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rf-halving-") as tmp:
        full = run_once(args, Path(tmp) / "full", halving=False)
        halved = run_once(args, Path(tmp) / "halving", halving=True)
    pick_under_full = full["fitness"][halved["best"]]
    tied = pick_under_full == full["best_fitness"]
    print(f"{args.samples} candidates x {args.timesteps} steps on {args.env}, seed {args.seed}")
    print(f"{'mode':<8} {'best fitness':>13} {'best sample':>12} {'env steps':>10} {'wall s':>8}")
    for name, result in (("full", full), ("halving", halved)):
        print(
            f"{name:<8} {result['best_fitness']:>13.4g} {result['best_sample']:>12} "
            f"{result['steps']:>10} {result['seconds']:>8.1f}"
        )
    same = "yes" if halved["best"] == full["best"] else ("tied" if tied else "no")
    print(
        f"same best candidate: {same} (halving's pick scores {pick_under_full:.4g} "
        f"under full training; the best there scores {full['best_fitness']:.4g})"
    )
    print(f"best fitness, halving / full: {halved['best_fitness'] / full['best_fitness']:.3f}")
    print(f"env steps, halving / full:    {halved['steps'] / full['steps']:.3f}")
    print(f"wall time, halving / full:    {halved['seconds'] / full['seconds']:.3f}")


if __name__ == "__main__":
    main()
