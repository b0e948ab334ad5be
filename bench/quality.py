"""Search quality across tasks: how good the rewards a search finds are, for what they cost.

For every task of a suite (bench/quality_suite.toml) and every search seed it runs
one whole search through the CLI (``rewardforge run``: the same code path a user
takes), each a stored run in its own SQLite database under the results folder, and
reads back the final multi-seed comparison: the best evolved reward, the env's own
reward and the fitness metric used as a reward (sparse), with the env steps, LLM
calls, tokens, cost and wall time it took.

    python bench/quality.py                         # the suite, offline proposer
    python bench/quality.py --scale 0.1 --search-seeds 1 --only mountaincar-flag
    python bench/quality.py --model gpt-4o-mini --base-url https://api.openai.com/v1

Writes ``results.md`` (a table and the aggregates) and ``results.json`` in the
results folder (default bench/results/<suite>-<proposer>-x<scale>/). Running it
again skips finished searches and resumes interrupted ones; a row of results.json
is reused only at the same budget and training settings (the proposer's code is
not fingerprinted: after changing it, start a new results folder).

Aggregates: the share of tasks where the evolved reward beats the metric used as a
reward; the share of standard tasks where it is at least the env's own (Eureka
reports 83% of its 29 tasks); the mean human-normalised score (standard tasks);
the mean success rate of the evolved reward on novel tasks.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

from quality_table import SOURCES, aggregates, markdown, recorded_searches, task_summary
from sqlalchemy import func, select

from app.db.models import Candidate, LLMCall, Run
from app.db.session import make_engine, make_session_factory
from app.execution.launcher import TRAIN_SPEC_FILE
from app.run_options import TrainingOptions
from app.run_prepare import resolve_tuning, training_defaults
from envs import get_card

REPO = Path(__file__).resolve().parents[1]
SUITE = Path(__file__).with_name("quality_suite.toml")
MIN_TIMESTEPS = 1000
# What a candidate's training settings are, as its sandbox's train spec says them.
SETTINGS_KEYS = ("algorithm", "n_envs", "normalize_obs", "hyperparams", "policy_kwargs")


def load_suite(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The suite's defaults and its tasks, each task with the defaults filled in."""
    data = tomllib.loads(path.read_text())
    defaults = data.get("defaults", {})
    tasks = [{**defaults, **task} for task in data.get("task", [])]
    for task in tasks:
        if task.get("group") not in ("standard", "novel"):
            raise SystemExit(f"task {task.get('name')!r}: group must be standard or novel")
        card = get_card(task["env"])
        if task["metric"] not in [m.name for m in card.fitness_metrics]:
            raise SystemExit(f"task {task['name']!r}: {task['env']} has no metric {task['metric']}")
    return defaults, tasks


def candidate_timesteps(task: dict[str, Any], scale: float) -> int:
    """Env steps per candidate of ``task`` at ``scale``."""
    return max(MIN_TIMESTEPS, round(task["timesteps"] * scale))


def expected_settings(task: dict[str, Any], timesteps: int) -> dict[str, Any]:
    """The training settings a search of ``task`` gives its candidates at this commit."""
    card = get_card(task["env"])
    tuning = resolve_tuning("auto", card, timesteps)
    fields = training_defaults(card, TrainingOptions(tuning=tuning)).spec_fields()
    return json.loads(json.dumps({key: fields[key] for key in SETTINGS_KEYS}))  # as stored


def trained_settings(candidates: list[Candidate]) -> dict[str, Any] | None:
    """The training settings a stored search's candidates ran with, from the first
    train spec found in their artifacts."""
    for candidate in candidates:
        if not candidate.artifact_dir:
            continue
        path = Path(candidate.artifact_dir) / TRAIN_SPEC_FILE
        if path.exists():
            spec = json.loads(path.read_text())
            return {key: spec.get(key) for key in SETTINGS_KEYS}
    return None


def search_args(task: dict[str, Any], seed: int, args: argparse.Namespace) -> list[str]:
    """The ``rewardforge run`` flags of one search."""
    timesteps = candidate_timesteps(task, args.scale)
    flags = [
        "run",
        *("--env", task["env"], "--task", task["task"], "--fitness", task["metric"]),
        *("--iterations", str(task["iterations"]), "--samples", str(task["samples"])),
        *("--timesteps", str(timesteps), "--final-seeds", str(task["final_seeds"])),
        *("--final-top-k", str(task["final_top_k"]), "--seed", str(seed)),
        "--no-video",
        "--env-reward-is-baseline"
        if task["group"] == "standard"
        else "--env-reward-is-not-baseline",
        "--json",
    ]
    if args.eval_episodes:
        flags += ["--eval-episodes", str(args.eval_episodes)]
    if args.screen_min_correlation is not None:
        flags += ["--screen-min-correlation", str(args.screen_min_correlation)]
    if args.model:
        flags += ["--model", args.model] + (["--base-url", args.base_url] if args.base_url else [])
    else:
        flags.append("--offline")
    return flags


def run_search(task: dict[str, Any], seed: int, args: argparse.Namespace, out: Path) -> Path:
    """Run (or resume, or skip when finished) one search; returns its data folder."""
    data_dir = out / "runs" / f"{task['name']}-s{seed}"
    stored = _stored_run(data_dir)
    if stored is not None and stored.status == "succeeded":
        print(f"  {data_dir.name}: finished, skipped", flush=True)
        return data_dir
    flags = (
        ["run", "--resume", stored.id, "--json"]
        if stored is not None
        else search_args(task, seed, args)
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("REWARDFORGE_")}
    env.update(REWARDFORGE_DATA_DIR=str(data_dir), REWARDFORGE_WORKERS=str(args.workers))
    env.setdefault("MUJOCO_GL", "egl")
    for name in ("LLM_PRICE_IN_PER_MTOK", "LLM_PRICE_OUT_PER_MTOK", "LLM_API_KEY"):
        if f"REWARDFORGE_{name}" in os.environ:
            env[f"REWARDFORGE_{name}"] = os.environ[f"REWARDFORGE_{name}"]
    data_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", *flags],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    (data_dir / "cli.log").write_text(done.stdout + "\n" + done.stderr)
    print(
        f"  {data_dir.name}: exit {done.returncode} in {time.monotonic() - started:.0f} s",
        flush=True,
    )
    return data_dir


def _stored_run(data_dir: Path) -> Run | None:
    database = data_dir / "rewardforge.db"
    if not database.exists():
        return None
    factory = make_session_factory(make_engine(f"sqlite:///{database}"))
    with factory() as session:
        return session.scalars(select(Run).order_by(Run.created_at.desc())).first()


def search_result(data_dir: Path) -> dict[str, Any] | None:
    """One finished search, read from its database: the final comparison and its cost."""
    database = data_dir / "rewardforge.db"
    if not database.exists():
        return None
    factory = make_session_factory(make_engine(f"sqlite:///{database}"))
    with factory() as session:
        run = session.scalars(select(Run).order_by(Run.created_at.desc())).first()
        if run is None:
            return None
        steps = session.scalar(
            select(func.coalesce(func.sum(Candidate.env_steps), 0)).where(
                Candidate.run_id == run.id
            )
        )
        screened = session.scalar(
            select(func.count(Candidate.id)).where(
                Candidate.run_id == run.id, Candidate.status == "screened"
            )
        )
        calls, tokens, cost = session.execute(
            select(
                func.count(LLMCall.id),
                func.coalesce(func.sum(LLMCall.prompt_tokens + LLMCall.completion_tokens), 0),
                func.coalesce(func.sum(LLMCall.cost_usd), 0.0),
            ).where(LLMCall.run_id == run.id, LLMCall.cached.is_(False))
        ).one()
        final = run.final or {}
        searched = session.scalars(
            select(Candidate)
            .where(Candidate.run_id == run.id, Candidate.kind == "search")
            .order_by(Candidate.created_at)
        ).all()
        row: dict[str, Any] = {
            "run_id": run.id,
            "status": run.status,
            "normalized_score": run.normalized_score,
            "winner_changed": (final.get("reselection") or {}).get("winner_changed"),
            "budget_stop": (final.get("budget") or {}).get("limit"),
            "env_steps": int(steps or 0),
            "screened": int(screened or 0),
            "env_steps_saved": int(screened or 0) * int(run.timesteps or 0),
            "llm_calls": int(calls or 0),
            "tokens": int(tokens or 0),
            "cost_usd": float(cost or 0.0),
            "wall_s": (run.updated_at - run.created_at).total_seconds(),
            "timesteps": run.timesteps,
            "tuning": (run.options or {}).get("tuning", "zoo"),
            "settings": trained_settings(list(searched)),
        }
        for source in SOURCES:
            block = final.get(source) or {}
            row[f"{source}_fitness"] = block.get("mean")
            row[f"{source}_success"] = block.get("success_rate")
        return row


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", type=Path, default=SUITE)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every budget")
    parser.add_argument("--search-seeds", type=int, help="searches per task (suite default)")
    parser.add_argument("--only", nargs="*", help="task names to run (default: all)")
    parser.add_argument("--model", help="an LLM model; default: the offline proposer")
    parser.add_argument("--base-url", help="an OpenAI-compatible endpoint for --model")
    parser.add_argument("--workers", type=int, default=2, help="candidates trained at once")
    parser.add_argument("--eval-episodes", type=int, help="evaluation episodes (CLI default)")
    parser.add_argument(
        "--screen-min-correlation",
        type=float,
        help="screen out rewards below this rank correlation on the archive (default: none)",
    )
    parser.add_argument("--out", type=Path, help="results folder")
    args = parser.parse_args(argv)
    defaults, tasks = load_suite(args.suite)
    if args.only:
        tasks = [t for t in tasks if t["name"] in args.only]
    seeds = args.search_seeds or int(defaults.get("search_seeds", 2))
    proposer = args.model or "offline"
    threshold = args.screen_min_correlation
    screen = "" if threshold is None else f"-screen{threshold:g}"
    out = args.out or REPO / "bench" / "results" / (
        f"{args.suite.stem}-{proposer.replace('/', '_')}-x{args.scale:g}{screen}"
    )
    out.mkdir(parents=True, exist_ok=True)
    budgets = {task["name"]: candidate_timesteps(task, args.scale) for task in tasks}
    recorded = recorded_searches(
        out / "results.json",
        args.scale,
        proposer,
        budgets,
        {task["name"]: expected_settings(task, budgets[task["name"]]) for task in tasks},
    )
    summaries = []
    for task in tasks:
        print(f"{task['name']} ({task['group']}): {seeds} search(es)", flush=True)
        searches = []
        for seed in range(seeds):
            data_dir = out / "runs" / f"{task['name']}-s{seed}"
            earlier = recorded.get((task["name"], seed))
            if earlier is not None and not (data_dir / "rewardforge.db").exists():
                print(f"  {data_dir.name}: finished, read from results.json", flush=True)
                searches.append(earlier)
                continue
            result = search_result(run_search(task, seed, args, out))
            if result is not None:
                searches.append({**result, "seed": seed})
        summaries.append({**task_summary(task, searches), "runs": searches})
    report = {
        "suite": args.suite.name,
        "command": shlex.join(
            ["python", "bench/quality.py", *(argv if argv is not None else sys.argv[1:])]
        ),
        "proposer": proposer,
        "scale": args.scale,
        "search_seeds": seeds,
        "tasks": summaries,
        "aggregates": aggregates(summaries),
    }
    (out / "results.json").write_text(json.dumps(report, indent=2, default=str))
    (out / "results.md").write_text(markdown(report))
    print(markdown(report))
    return report


if __name__ == "__main__":
    main()
