"""Env steps per second of the CPU path and of the batched simulator, side by side.

    python bench/gpu_sim.py                               # anywhere: CPU path vs Warp
    python bench/gpu_sim.py --envs 64 256 1024 4096 8192 --ppo-timesteps 2000000
                                                          # on a machine with a GPU

Three measurements, each printed as env steps/s and as a ratio to the CPU path
measured in the same run (the machine may be shared: only the ratios carry):

1. **raw stepping**: random actions, no learning. The CPU path is a DummyVecEnv of
   Gymnasium's env (``--cpu-envs`` of them, stepped in turn); the batched one is
   ``BatchedVecEnv`` at each ``--envs`` size.
2. **whole PPO training** (``sandbox.learn.train``, the worker's own code: reward
   wrapper, statistics, VecNormalize, PPO with the card's zoo settings, scaled for
   the batched envs), ``--ppo-timesteps`` env steps on the env's own reward.
3. **fitness for equal env steps**: each trained policy scored by the trusted
   evaluator on Gymnasium's env (``--eval-episodes``).

The batched simulator runs on CUDA when torch sees a GPU, else on Warp's CPU
backend, and the report says which, plainly. On the CPU backend only the smaller
sizes are worth timing (the default ``--envs``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

from envs import get_card
from sandbox.batched import unavailable_reason
from sandbox.evaluate import evaluate
from sandbox.learn import train
from sandbox.spec import POLICY_FILE, EvalSpec, TrainSpec


def steps_per_second(venv: VecEnv, vec_steps: int, seed: int = 0) -> float:
    """Env steps/s of ``vec_steps`` random-action steps, after a short warm-up."""
    rng = np.random.default_rng(seed)
    space = venv.action_space
    assert isinstance(space, gym.spaces.Box)
    actions = rng.uniform(space.low, space.high, (16, venv.num_envs, *space.shape))
    venv.reset()
    for i in range(5):  # compile and fill caches before the clock starts
        venv.step(actions[i % 16].astype(np.float32))
    start = time.perf_counter()
    for i in range(vec_steps):
        venv.step(actions[i % 16].astype(np.float32))
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return vec_steps * venv.num_envs / (time.perf_counter() - start)


def cpu_venv(env_id: str, n_envs: int) -> VecEnv:
    return DummyVecEnv([lambda: gym.make(env_id)] * n_envs)


def batched_venv(env_id: str, n_envs: int, device: str) -> VecEnv:
    from sandbox.batched.vec_env import BatchedVecEnv

    return BatchedVecEnv(env_id, n_envs, device=device, seed=0)


def ppo(
    env_id: str, simulator: str, n_envs: int, timesteps: int, device: str, episodes: int, out: Path
) -> dict[str, Any]:
    """Train on the env's own reward with the worker's code; steps/s and evaluated fitness."""
    card = get_card(env_id)
    metric = card.default_metric
    spec = TrainSpec(
        env_id=env_id,
        fitness_metric=metric.name,
        output_dir=str(out),
        reward_source="env",
        algorithm="PPO",
        timesteps=timesteps,
        n_envs=n_envs,
        hyperparams=dict(card.training.hyperparams),
        policy_kwargs=dict(card.training.policy_kwargs),
        normalize_obs=card.training.normalize_obs,
        checkpoints=1,
        device=device,
        simulator=simulator,
    )
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    steps = train(spec, card, metric, None)
    seconds = time.perf_counter() - start
    report = evaluate(
        EvalSpec(
            env_id=env_id,
            fitness_metric=metric.name,
            policy_path=str(out / POLICY_FILE),
            output_dir=str(out),
            policy_kwargs=spec.policy_kwargs,
            episodes=episodes,
            video=False,
            device=device,
        )
    )
    return {
        "env_steps": steps,
        "steps_per_s": steps / seconds,
        "fitness_mean": float(report["fitness"]),
        "fitness": report["episode_fitness"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="HalfCheetah-v5")
    parser.add_argument("--cpu-envs", type=int, default=4, help="envs of the CPU path")
    parser.add_argument("--envs", type=int, nargs="+", help="batched sizes (default by device)")
    parser.add_argument("--vec-steps", type=int, default=200, help="raw steps per size")
    parser.add_argument("--ppo-timesteps", type=int, default=0, help="0: skip PPO")
    parser.add_argument("--ppo-envs", type=int, default=0, help="batched envs for PPO")
    parser.add_argument("--eval-episodes", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args()

    torch.set_num_threads(1)
    gpu = torch.cuda.is_available()
    device = "cuda" if gpu else "cpu"
    where = (
        f"GPU: {torch.cuda.get_device_name(0)}"
        if gpu
        else "no GPU seen (torch.cuda.is_available() is False): the batched simulator "
        "runs on Warp's CPU backend, which shows it works, not how fast a GPU is"
    )
    print(f"{args.env}; {where}")
    reason = unavailable_reason(args.env, "mujoco_warp")
    sizes = args.envs or ([64, 256, 1024, 4096, 8192] if gpu else [16, 64])
    report: dict[str, Any] = {"env": args.env, "gpu": gpu, "where": where, "raw": {}, "ppo": {}}

    cpu_rate = steps_per_second(cpu_venv(args.env, args.cpu_envs), args.vec_steps * 4)
    report["raw"]["cpu"] = {"n_envs": args.cpu_envs, "steps_per_s": cpu_rate}
    print(f"raw stepping  CPU path, {args.cpu_envs} envs: {cpu_rate:>12,.0f} env steps/s  1.00x")
    if reason is not None:
        print(f"batched simulator unavailable: {reason}")
    else:
        for n in sizes:
            rate = steps_per_second(batched_venv(args.env, n, device), args.vec_steps)
            report["raw"][f"batched_{n}"] = {"n_envs": n, "steps_per_s": rate}
            print(
                f"raw stepping  batched, {n:>5} envs:  {rate:>12,.0f} env steps/s  "
                f"{rate / cpu_rate:.2f}x"
            )

    if args.ppo_timesteps and reason is None:
        ppo_envs = args.ppo_envs or (4096 if gpu else 64)
        with tempfile.TemporaryDirectory() as tmp:
            sides = {
                "cpu": ("mujoco", args.cpu_envs),
                f"batched_{ppo_envs}": ("mujoco_warp", ppo_envs),
            }
            for side, (simulator, n) in sides.items():
                result = ppo(
                    args.env,
                    simulator,
                    n,
                    args.ppo_timesteps,
                    device,
                    args.eval_episodes,
                    Path(tmp) / side,
                )
                report["ppo"][side] = result
        base = report["ppo"]["cpu"]
        for side, result in report["ppo"].items():
            print(
                f"whole PPO     {side:<14} {result['env_steps']:>9} env steps: "
                f"{result['steps_per_s']:>10,.0f} env steps/s  "
                f"{result['steps_per_s'] / base['steps_per_s']:.2f}x; "
                f"evaluated fitness {result['fitness_mean']:.1f} "
                f"(CPU path {base['fitness_mean']:.1f})"
            )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
