"""Training throughput inside the strongest sandbox against the same worker unsandboxed.

Both sides are the launcher starting the same candidate job (the card's
defaults, a candidate reward, statistics and heartbeats on, the same caps);
only the isolation differs: the strongest level this machine offers (bwrap
where installed) against "rlimits" (an ordinary process). Runs alternate so
that machine load hits both alike.

    python bench/sandbox_overhead.py --env HalfCheetah-v5 --timesteps 20000 --repeats 3

Throughput is env steps per second of ``learn()`` (from stats.json); the end
to end figure includes starting the sandbox. Target: ratio >= 0.95.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from app.config import get_settings
from app.execution.isolation import strongest
from app.execution.launcher import SandboxPolicy, launch_training
from sandbox.spec import STATS_FILE

sys.path.insert(0, str(Path(__file__).resolve().parent))
from overhead import candidate_spec  # noqa: E402  (a sibling script, not a package)


def run(level: str, env_id: str, timesteps: int, out: Path, seed: int) -> dict[str, float]:
    """One training at ``level``: learn() and end-to-end throughput."""
    policy = replace(SandboxPolicy.from_settings(get_settings()), level=level)
    spec = candidate_spec(env_id, timesteps, out, seed)
    outcome = launch_training(spec, deadline_s=3600.0, heartbeat_timeout_s=300.0, policy=policy)
    if outcome.status != "ok" or outcome.sandbox_level != level:
        raise SystemExit(f"{level} training failed ({outcome.sandbox_level}): {outcome.error}")
    stats = json.loads((out / STATS_FILE).read_text())
    return {"learn_sps": stats["steps_per_second"], "e2e_sps": timesteps / outcome.seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="HalfCheetah-v5")
    parser.add_argument("--timesteps", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each side (>= 2)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    boxed = strongest()
    runs: dict[str, list[dict[str, float]]] = {boxed: [], "rlimits": []}
    with tempfile.TemporaryDirectory(prefix="rf-sandbox-bench-") as tmp:
        for i in range(max(2, args.repeats)):
            order = (boxed, "rlimits") if i % 2 == 0 else ("rlimits", boxed)
            for level in order:
                out = Path(tmp) / f"{level}{i}"
                result = run(level, args.env, args.timesteps, out, args.seed)
                runs[level].append(result)
                print(
                    f"{level:>8} run {i + 1}: {result['learn_sps']:8.1f} env steps/s in learn(), "
                    f"{result['e2e_sps']:8.1f} end to end",
                    flush=True,
                )
    median = {
        level: {key: statistics.median(r[key] for r in rs) for key in ("learn_sps", "e2e_sps")}
        for level, rs in runs.items()
    }
    print(f"\n{args.env}, {args.timesteps} timesteps, median of {len(runs[boxed])} runs each")
    for level, m in median.items():
        print(f"{level:>8}: {m['learn_sps']:8.1f} env steps/s   ({m['e2e_sps']:.1f} end to end)")
    learn = median[boxed]["learn_sps"] / median["rlimits"]["learn_sps"]
    e2e = median[boxed]["e2e_sps"] / median["rlimits"]["e2e_sps"]
    print(f"ratio {boxed}/rlimits: {learn:.3f} in learn(), {e2e:.3f} end to end (target >= 0.95)")
    # Each repeat ran both sides back to back, so its own ratio sees the same load.
    paired = zip(runs[boxed], runs["rlimits"], strict=True)
    pairs = [boxed_run["learn_sps"] / plain["learn_sps"] for boxed_run, plain in paired]
    print(
        f"per-repeat ratios in learn(): {', '.join(f'{p:.3f}' for p in pairs)} "
        f"(geometric mean {statistics.geometric_mean(pairs):.3f})"
    )


if __name__ == "__main__":
    main()
