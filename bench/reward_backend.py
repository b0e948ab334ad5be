"""Training throughput of the same reward written for numpy and for torch.

Both sides train the same candidate job through the full path (launcher,
sandbox worker, reward wrapper) with the card's defaults; only the reward
backend differs. The torch side gets float32 tensor copies of the state on the
training device each step (``--device auto``: CUDA where torch sees one) and
hands tensors back. Sides alternate so that machine load hits both alike.

    python bench/reward_backend.py --env HalfCheetah-v5 --timesteps 30000 --repeats 2
    python bench/reward_backend.py --device cuda --n-envs 64      # on a GPU machine

First it times the reward call alone (numpy function vs torch function behind
the adapter, both with the contract check, on one batch of real states), then
whole trainings. Prints microseconds per call, the median env steps/s of learn()
for each side, and the ratios.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from overhead import candidate_spec, run_ours  # a sibling script: run this file by its path

from app.llm.offline_code import numpy_to_torch
from envs import get_card
from sandbox.device import resolve_device
from sandbox.reward_code import load_reward, validate_output
from sandbox.torch_reward import torch_reward
from sandbox.train import sample_states

TORCH_TEMPLATE = """import torch


def compute_reward(state, action):
    # Reward progress on the task, and keep the actions small.
    progress = torch.as_tensor({expression}, dtype=torch.float32)
    effort = torch.square(action.to(torch.float32)).reshape(progress.shape[0], -1)
    effort_cost = -0.01 * torch.sum(effort, dim=-1)
    total = progress + effort_cost
    return total, {{"progress": progress, "effort_cost": effort_cost}}
"""


def call_micros(env_id: str, codes: dict[str, str], batch: int, device: str) -> dict[str, float]:
    """Median microseconds of one checked reward call per backend, calls interleaved."""
    state, action = sample_states(get_card(env_id), batch, seed=0)
    fns = {"numpy": load_reward(codes["numpy"])}
    fns["torch"] = torch_reward(load_reward(codes["torch"]), resolve_device(device))
    samples: dict[str, list[float]] = {side: [] for side in fns}
    for _ in range(50):
        for side, fn in fns.items():
            start = time.perf_counter()
            for _ in range(20):
                validate_output(fn(state, action), batch)
            samples[side].append((time.perf_counter() - start) / 20 * 1e6)
    return {side: statistics.median(values) for side, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="HalfCheetah-v5")
    parser.add_argument("--timesteps", type=int, default=30_000)
    parser.add_argument("--repeats", type=int, default=2, help="runs of each side (>= 2)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    parser.add_argument("--n-envs", type=int, default=None, help="default: the card's")
    parser.add_argument("--calls-only", action="store_true", help="time reward calls only")
    args = parser.parse_args()

    card = get_card(args.env)
    torch_code = TORCH_TEMPLATE.format(expression=numpy_to_torch(card.default_metric.expression))
    numpy_code = candidate_spec(args.env, 1000, Path("."), seed=0).reward_code or ""
    batch = args.n_envs or card.training.n_envs
    micros = call_micros(args.env, {"numpy": numpy_code, "torch": torch_code}, batch, args.device)
    print(
        f"one reward call on {batch} envs: numpy {micros['numpy']:.1f} us, torch "
        f"{micros['torch']:.1f} us (ratio {micros['torch'] / micros['numpy']:.2f})",
        flush=True,
    )
    if args.calls_only:
        return
    sps: dict[str, list[float]] = {"numpy": [], "torch": []}
    with tempfile.TemporaryDirectory(prefix="rf-backend-") as tmp:
        for i in range(max(2, args.repeats)):
            for side in ("numpy", "torch") if i % 2 == 0 else ("torch", "numpy"):
                spec = candidate_spec(args.env, args.timesteps, Path(tmp) / f"{side}{i}", seed=0)
                spec = replace(spec, device=args.device, n_envs=args.n_envs or spec.n_envs)
                if side == "torch":
                    spec = replace(spec, reward_backend="torch", reward_code=torch_code)
                result = run_ours(spec)
                sps[side].append(result["learn_sps"])
                print(f"{side:>5} run {i + 1}: {result['learn_sps']:8.1f} env steps/s", flush=True)
    numpy_sps, torch_sps = (statistics.median(sps[side]) for side in ("numpy", "torch"))
    print(f"\n{args.env}, {args.timesteps} timesteps, device {args.device}, median of each side")
    print(f"numpy reward: {numpy_sps:8.1f} env steps/s")
    print(f"torch reward: {torch_sps:8.1f} env steps/s")
    print(f"ratio torch/numpy: {torch_sps / numpy_sps:.3f}")


if __name__ == "__main__":
    main()
