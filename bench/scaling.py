"""Candidates per hour with 1 worker and with N workers of the local pool, and on Ray.

Every mode trains and evaluates the same candidate jobs (the card's defaults, a
reward written the way an LLM writes one, one seed per candidate) through the
executor interface, side by side in one process, so machine load hits all of
them alike. Ray runs on a local cluster of N CPUs (started before the clock
starts) unless --ray-address names an existing one.

    python bench/scaling.py --env MountainCarContinuous-v0 --candidates 4 --timesteps 4096

Scaling efficiency of N workers is (candidates/hour with N) / (N x candidates/hour
with 1). Target: >= 0.9 per added core.

A shared or virtual machine may not give N times the work on N cores (vCPUs on
one physical core's hyper-threads, neighbours' load), so the bench also measures
the machine's own ceiling side by side: the speed-up of plain env stepping in N
processes over one, with no rewardforge code at all. Efficiency against that
ceiling is the part of the scaling loss that is ours.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from overhead import candidate_spec  # a sibling script: run this file by its path

from app.execution.executor import CandidateJob, Executor
from app.execution.local import LocalExecutor
from envs import get_card
from sandbox.spec import POLICY_FILE, EvalSpec


def jobs(env_id: str, count: int, timesteps: int, root: Path) -> list[CandidateJob]:
    """``count`` candidate jobs differing only in their seed."""
    card = get_card(env_id)
    made = []
    for index in range(count):
        out = root / f"candidate-{index}"
        train = candidate_spec(env_id, timesteps, out, seed=index)
        evaluation = EvalSpec(
            env_id=env_id,
            fitness_metric=card.default_metric.name,
            policy_path=str(out / POLICY_FILE),
            output_dir=str(out),
            algorithm=train.algorithm,
            policy_kwargs=train.policy_kwargs,
            episodes=1,
            video=False,
        )
        made.append(CandidateJob(f"candidate-{index}", train, evaluation))
    return made


def candidates_per_hour(executor: Executor, batch: list[CandidateJob], root: Path) -> float:
    """Run ``batch`` (output dirs moved under ``root``) and return its throughput."""
    moved = [
        replace(
            job,
            train=replace(job.train, output_dir=str(root / job.key)),
            eval=replace(
                job.eval,  # type: ignore[arg-type]
                output_dir=str(root / job.key),
                policy_path=str(root / job.key / POLICY_FILE),
            ),
        )
        for job in batch
    ]
    start = time.monotonic()
    results = list(executor.run(moved))
    seconds = time.monotonic() - start
    failed = [r for r in results if r.status != "done"]
    if failed:
        raise SystemExit(f"{failed[0].key} did not train: {failed[0].error}")
    return len(results) / seconds * 3600.0


def _step_env(env_id: str, steps: int) -> float:
    """Seconds for ``steps`` random-action steps of one env (a child process's work)."""
    import gymnasium as gym

    env = gym.make(env_id)
    env.reset(seed=0)
    env.action_space.seed(0)
    start = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()
    return time.perf_counter() - start


def machine_ceiling(env_id: str, workers: int, steps: int = 200_000) -> float:
    """Speed-up of ``workers`` processes stepping the env at once over one process."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers) as pool:
        pool.starmap(_step_env, [(env_id, 1000)] * workers)  # imports and warm-up
        start = time.perf_counter()
        pool.starmap(_step_env, [(env_id, steps)])
        one = time.perf_counter() - start
        start = time.perf_counter()
        pool.starmap(_step_env, [(env_id, steps)] * workers)
        many = time.perf_counter() - start
    return workers * one / many


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="MountainCarContinuous-v0")
    parser.add_argument("--candidates", type=int, default=4)
    parser.add_argument("--timesteps", type=int, default=4096)
    parser.add_argument("--workers", type=int, default=2, help="N, the parallel modes' width")
    parser.add_argument("--ray-address", default=None, help="an existing cluster (else local)")
    parser.add_argument("--no-ray", action="store_true", help="measure the local pool only")
    args = parser.parse_args()

    modes: dict[str, Executor] = {
        "local, 1 worker": LocalExecutor(1),
        f"local, {args.workers} workers": LocalExecutor(args.workers),
    }
    if not args.no_ray:
        from app.execution.ray_executor import RayExecutor

        if args.ray_address is None:  # a throwaway cluster of our own
            os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        ray = RayExecutor(address=args.ray_address, num_cpus=args.workers)
        ray.connect()
        modes[f"ray, {args.workers} CPUs"] = ray
    with tempfile.TemporaryDirectory(prefix="rf-scaling-") as tmp:
        batch = jobs(args.env, args.candidates, args.timesteps, Path(tmp) / "specs")
        rates = {
            name: candidates_per_hour(executor, batch, Path(tmp) / f"mode-{i}")
            for i, (name, executor) in enumerate(modes.items())
        }
    ceiling = machine_ceiling(args.env, args.workers)
    base = rates["local, 1 worker"]
    print(f"{args.candidates} candidates of {args.timesteps} steps on {args.env}, each evaluated")
    print(f"{'mode':<22} {'candidates/hour':>16} {'speed-up':>9} {'efficiency':>11}")
    for name, rate in rates.items():
        width = 1 if name == "local, 1 worker" else args.workers
        print(f"{name:<22} {rate:>16.1f} {rate / base:>9.2f} {rate / (width * base):>11.2f}")
    print(
        f"machine ceiling: {args.workers} processes stepping {args.env} run "
        f"{ceiling:.2f}x one (efficiency {ceiling / args.workers:.2f}); ours against it: "
        + ", ".join(
            f"{name} {rate / base / ceiling:.2f}"
            for name, rate in rates.items()
            if name != "local, 1 worker"
        )
    )
    if not args.no_ray:
        modes[f"ray, {args.workers} CPUs"].shutdown()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
