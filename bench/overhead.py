"""Training throughput of a candidate through rewardforge's full path, against
plain Stable-Baselines3 PPO on the env's own reward.

Both sides train the same env with the same card defaults (algorithm,
hyperparameters, policy, n_envs, observation and reward normalisation, seed),
one thread each, as child processes of this one, alternating so that machine
load hits both alike. The full path is the launcher starting a sandbox worker
whose candidate reward (written like an LLM writes one: progress minus an
effort cost) is applied every step by the reward wrapper, with statistics and
heartbeats on.

    python bench/overhead.py --env HalfCheetah-v5 --timesteps 50000 --repeats 2

Throughput is env steps per second of ``learn()`` (start-up excluded); the
end-to-end figure includes starting the process. Target: ratio >= 0.90.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from app.execution.launcher import build_command, launch_training
from envs import get_card
from sandbox.spec import STATS_FILE, TrainSpec

REWARD_TEMPLATE = """import numpy as np


def compute_reward(state, action):
    # Reward progress on the task, and keep the actions small.
    progress = np.asarray({expression}, dtype=np.float64)
    effort = np.square(np.asarray(action, dtype=np.float64)).reshape(len(progress), -1)
    effort_cost = -0.01 * np.sum(effort, axis=-1)
    total = progress + effort_cost
    return total, {{"progress": progress, "effort_cost": effort_cost}}
"""


def candidate_spec(env_id: str, timesteps: int, out: Path, seed: int) -> TrainSpec:
    """The candidate job: card defaults, a reward built on the card's default metric."""
    card = get_card(env_id)
    return TrainSpec(
        env_id=env_id,
        fitness_metric=card.default_metric.name,
        output_dir=str(out),
        reward_code=REWARD_TEMPLATE.format(expression=card.default_metric.expression),
        timesteps=timesteps,
        seed=seed,
        **card.training.spec_fields(),
    )


def run_ours(spec: TrainSpec) -> dict[str, float]:
    outcome = launch_training(spec, deadline_s=3600.0, heartbeat_timeout_s=300.0)
    if outcome.status != "ok":
        raise SystemExit(f"candidate training failed: {outcome.error}")
    stats = json.loads((Path(spec.output_dir) / STATS_FILE).read_text())
    return {"learn_sps": stats["steps_per_second"], "wall_s": outcome.seconds}


def run_plain(spec: TrainSpec) -> dict[str, float]:
    """This file's --plain mode in a child, with the sandbox's environment and flags."""
    out = Path(spec.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "plain_spec.json").write_text(spec.to_json())
    command = build_command("sandbox.train", out / "plain_spec.json", out)
    argv = [
        sys.executable,
        "-I",
        str(Path(__file__).resolve()),
        "--plain",
        str(out / "plain_spec.json"),
    ]
    start = time.monotonic()
    done = subprocess.run(argv, env=command.env, cwd=out, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"plain training failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {"learn_sps": result["learn_sps"], "wall_s": time.monotonic() - start}


def plain_main(spec_path: str) -> None:
    """Plain SB3: DummyVecEnv -> VecNormalize -> PPO/SAC on the env's own reward."""
    from functools import partial

    import gymnasium as gym
    import torch
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    from envs.training import sb3_policy_kwargs
    from sandbox.policy_file import ALGORITHMS

    torch.set_num_threads(1)
    spec = TrainSpec.from_json(Path(spec_path).read_text())
    card = get_card(spec.env_id)
    envs = DummyVecEnv([partial(gym.make, spec.env_id, **card.make_kwargs)] * spec.n_envs)
    venv = VecNormalize(
        envs,
        norm_obs=spec.normalize_obs,
        norm_reward=True,
        gamma=float(spec.hyperparams.get("gamma", 0.99)),
    )
    model = ALGORITHMS[spec.algorithm](
        "MlpPolicy",
        venv,
        seed=spec.seed,
        device=spec.device,
        verbose=0,
        policy_kwargs=sb3_policy_kwargs(spec.policy_kwargs),
        **spec.hyperparams,
    )
    start = time.monotonic()
    model.learn(total_timesteps=spec.timesteps)
    print(json.dumps({"learn_sps": spec.timesteps / (time.monotonic() - start)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="HalfCheetah-v5")
    parser.add_argument("--timesteps", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=2, help="runs of each side (>= 2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plain", metavar="SPEC", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain:
        plain_main(args.plain)
        return

    runs: dict[str, list[dict[str, float]]] = {"plain": [], "ours": []}
    with tempfile.TemporaryDirectory(prefix="rf-bench-") as tmp:
        for i in range(max(2, args.repeats)):
            for side in ("plain", "ours") if i % 2 == 0 else ("ours", "plain"):
                spec = candidate_spec(args.env, args.timesteps, Path(tmp) / f"{side}{i}", args.seed)
                result = (run_plain if side == "plain" else run_ours)(spec)
                runs[side].append(result)
                print(
                    f"{side:>5} run {i + 1}: {result['learn_sps']:8.1f} env steps/s in learn(), "
                    f"{args.timesteps / result['wall_s']:8.1f} end to end",
                    flush=True,
                )
    plain_sps = statistics.median(r["learn_sps"] for r in runs["plain"])
    ours_sps = statistics.median(r["learn_sps"] for r in runs["ours"])
    plain_e2e = args.timesteps / statistics.median(r["wall_s"] for r in runs["plain"])
    ours_e2e = args.timesteps / statistics.median(r["wall_s"] for r in runs["ours"])
    print(f"\n{args.env}, {args.timesteps} timesteps, median of {len(runs['ours'])} runs each")
    print(
        f"plain SB3 (env reward):       {plain_sps:8.1f} env steps/s   ({plain_e2e:.1f} end to end)"
    )
    print(
        f"rewardforge (candidate):      {ours_sps:8.1f} env steps/s   ({ours_e2e:.1f} end to end)"
    )
    print(
        f"ratio: {ours_sps / plain_sps:.3f} in learn(), {ours_e2e / plain_e2e:.3f} end to end "
        "(target >= 0.90)"
    )


if __name__ == "__main__":
    main()
