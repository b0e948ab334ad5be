"""``rewardforge run | show | runs | export``."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console

from app.cli.progress import RunProgress
from app.cli.report import print_run, run_summary, runs_table
from app.config import get_settings
from app.db.candidates import best_candidate
from app.db.errors import ConflictError
from app.db.models import Run
from app.db.repository import create_run, extend_run, get_run, release_lease
from app.db.repository import list_runs as query_runs
from app.db.run_store import RunStore
from app.db.session import get_session_factory, upgrade_database
from app.evolution.export import export_module
from app.evolution.loop import execute_run
from app.evolution.runner import make_context
from app.run_options import RunSpec
from app.run_prepare import RunOptionError, prepare_run
from app.worker.lease import LeaseKeeper, acquire_run
from app.worker.loop import default_worker_id


def run(
    env: Annotated[str | None, typer.Option(help="environment id, see `rewardforge envs`")] = None,
    task: Annotated[str | None, typer.Option(help="what the agent should do, in words")] = None,
    fitness: Annotated[
        str | None, typer.Option(help="trusted fitness metric (card default)")
    ] = None,
    iterations: Annotated[int | None, typer.Option(help="rounds of evolution (5)")] = None,
    samples: Annotated[int | None, typer.Option(help="candidates per iteration (4)")] = None,
    timesteps: Annotated[int | None, typer.Option(help="env steps per candidate")] = None,
    final_seeds: Annotated[
        int | None, typer.Option(help="seeds of the final retraining (3; 0 skips it)")
    ] = None,
    seed: Annotated[int, typer.Option()] = 0,
    model: Annotated[str | None, typer.Option(help="LLM model (REWARDFORGE_LLM_MODEL)")] = None,
    base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible endpoint")] = None,
    offline: Annotated[bool, typer.Option(help="use the offline proposer, no LLM")] = False,
    env_card: Annotated[str | None, typer.Option(help="your own card: pkg.mod:factory")] = None,
    algorithm: Annotated[str | None, typer.Option(help="PPO or SAC (card default)")] = None,
    n_envs: Annotated[int | None, typer.Option(help="parallel envs (card default)")] = None,
    tuning: Annotated[
        str | None,
        typer.Option(
            help="the card's training settings: zoo (tuned for its full budget), short (for "
            "small budgets, where the card has them) or auto (short at <= 0.2 of the budget)"
        ),
    ] = None,
    device: Annotated[
        str | None, typer.Option(help="torch device: auto (CUDA when present), cpu, cuda[:N]")
    ] = None,
    reward_backend: Annotated[
        str | None, typer.Option(help="numpy, or torch: reward code on tensors on the device")
    ] = None,
    simulator: Annotated[
        str | None,
        typer.Option(
            help="mujoco (Gymnasium's envs on the CPU), or mujoco_warp: all envs batched on "
            "one device (HalfCheetah, Hopper, Walker2d, Swimmer, Ant; n_envs up to 8192)"
        ),
    ] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="candidates trained at once")] = None,
    eval_episodes: Annotated[int | None, typer.Option(help="evaluation episodes (5)")] = None,
    video: Annotated[
        bool | None, typer.Option("--video/--no-video", help="film every trained policy (yes)")
    ] = None,
    final_top_k: Annotated[
        int | None,
        typer.Option(help="retrain the best k on fresh seeds before the final test (3; 1: off)"),
    ] = None,
    env_reward_is_baseline: Annotated[
        bool | None,
        typer.Option(
            "--env-reward-is-baseline/--env-reward-is-not-baseline",
            help="is the env's own reward a fair human baseline for this task "
            "(default: only for the card's default metric)",
        ),
    ] = None,
    max_env_steps: Annotated[
        int | None, typer.Option(help="budget: env steps of the whole run, final test included")
    ] = None,
    max_cost_usd: Annotated[
        float | None, typer.Option(help="budget: LLM cost in USD; the search stops there")
    ] = None,
    max_wall_s: Annotated[
        float | None, typer.Option(help="budget: wall time in seconds; the search stops there")
    ] = None,
    screening: Annotated[
        bool | None,
        typer.Option(
            "--screening/--no-screening",
            help="rank each reward on the archive of evaluated episodes before it trains (yes)",
        ),
    ] = None,
    screen_min_correlation: Annotated[
        float | None,
        typer.Option(
            help="skip training a reward whose rank correlation on the archive is below this"
        ),
    ] = None,
    resume: Annotated[str | None, typer.Option(help="resume an interrupted run by id")] = None,
    more_iterations: Annotated[
        int | None,
        typer.Option(min=1, help="with --resume: give a run that has ended this many more"),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="print one JSON object at the end")
    ] = False,
) -> None:
    """Evolve a reward function for a task and report the best one."""
    settings = get_settings()
    if workers:
        settings = settings.model_copy(update={"workers": workers})
    console = Console(stderr=as_json)
    url = settings.resolved_database_url
    upgrade_database(url)
    session_factory = get_session_factory(url)
    worker_id = f"cli:{default_worker_id()}"
    if more_iterations and not resume:
        raise typer.BadParameter(
            "it gives a run that has ended more iterations: add --resume RUN_ID",
            param_hint="--more-iterations",
        )
    with session_factory() as session:
        if resume:
            stored = _resumed(session, resume, more_iterations, settings, worker_id)
        else:
            spec = _new_run_spec(
                env=env,
                task=task,
                fitness=fitness,
                card_spec=env_card,
                timesteps=timesteps,
                iterations=iterations,
                samples=samples,
                final_seeds=final_seeds,
                seed=seed,
                llm={"model": model, "base_url": base_url, "offline": offline},
                options={
                    "algorithm": algorithm.upper() if algorithm else None,
                    "n_envs": n_envs,
                    "tuning": tuning,
                    "eval_episodes": eval_episodes,
                    "device": device,
                    "reward_backend": reward_backend,
                    "simulator": simulator,
                    "video": video,
                    "final_top_k": final_top_k,
                    "env_reward_is_baseline": env_reward_is_baseline,
                    "max_env_steps": max_env_steps,
                    "max_cost_usd": max_cost_usd,
                    "max_wall_s": max_wall_s,
                    "screening": screening,
                    "screen_min_correlation": screen_min_correlation,
                },
            )
            stored = create_run(session, spec)
            # leased in the same transaction, so a service worker never picks it up
            acquire_run(
                session, run_id=stored.id, worker_id=worker_id, lease_seconds=settings.lease_seconds
            )
        session.commit()
        run_id, total = stored.id, (stored.iterations, stored.samples, stored.timesteps)
    how = f"extended to {total[0]} iterations" if more_iterations else "resumed"
    console.print(f"run [bold]{run_id}[/bold] ({how if resume else 'new'})")
    _execute_here(settings, session_factory, console, run_id, total, worker_id)
    with session_factory() as session:
        ended = get_run(session, run_id=run_id)
        assert ended is not None
        if as_json:
            typer.echo(json.dumps(run_summary(session, ended)))
        else:
            print_run(console, session, ended, data_location=_data_location(settings))
        failed = ended.status != "succeeded"
    if failed:
        raise typer.Exit(code=1)


def _resumed(session: Any, run_id: str, more: int | None, settings: Any, worker_id: str) -> Run:
    """The run to resume; given ``more`` iterations, extended and leased in one transaction
    (queued again, it is no service worker's to take)."""
    stored = get_run(session, run_id=run_id)
    if stored is None:
        raise typer.BadParameter(f"no run with id {run_id!r}", param_hint="--resume")
    if not more:
        return stored
    try:
        stored = extend_run(session, run_id=run_id, more=more)
    except RunOptionError as exc:
        hint = "--more-iterations" if exc.loc == ("iterations",) else "--resume"
        raise typer.BadParameter(exc.message, param_hint=hint) from None
    except ConflictError as exc:
        raise typer.BadParameter(str(exc), param_hint="--resume") from None
    acquire_run(session, run_id=run_id, worker_id=worker_id, lease_seconds=settings.lease_seconds)
    return stored


def _execute_here(
    settings: Any,
    session_factory: Any,
    console: Console,
    run_id: str,
    total: tuple[int, int, int],
    worker_id: str,
) -> None:
    """Execute the run in this process under a lease, so no worker takes it meanwhile."""
    with session_factory() as session:
        if not acquire_run(
            session, run_id=run_id, worker_id=worker_id, lease_seconds=settings.lease_seconds
        ):
            held = get_run(session, run_id=run_id)
            owner = held.lease_owner if held is not None else "?"
            until = held.lease_expires_at if held is not None else None
            raise typer.BadParameter(
                f"run {run_id} is held by {owner} until {until:%H:%M:%S} UTC; "
                "if that process died, try again once its lease runs out"
            )
        session.commit()
    cancel = _cancel_on_interrupt(console, run_id)
    keeper = LeaseKeeper(
        session_factory, run_id=run_id, worker_id=worker_id, lease_seconds=settings.lease_seconds
    )
    bars = RunProgress(console, iterations=total[0], samples=total[1], timesteps=total[2])
    with keeper, bars:
        ctx = make_context(
            settings=settings,
            store=RunStore(session_factory),
            progress=bars,
            should_cancel=lambda: cancel.is_set() or keeper.should_stop(),
        )
        ctx.owns_run = lambda: not keeper.lost.is_set()
        execute_run(ctx, run_id)
    with session_factory() as session:
        release_lease(session, run_id=run_id, worker_id=worker_id)
        session.commit()


def _new_run_spec(*, env: str | None, task: str | None, **given: Any) -> RunSpec:
    """The run the flags ask for, checked by the same model and rules as the API's."""
    if not env or not task:
        raise typer.BadParameter("--env and --task are required (or --resume RUN_ID)")
    fields = {k: v for k, v in given.items() if v is not None}
    fields["options"] = {k: v for k, v in given["options"].items() if v is not None}
    try:
        return prepare_run(RunSpec(env_id=env, task=task, **fields))
    except ValidationError as exc:
        raise typer.BadParameter(_flag_errors(exc)) from None
    except RunOptionError as exc:
        message = f"{_flag(exc.loc[-1])}: {exc.message}" if exc.loc else exc.message
        raise typer.BadParameter(message) from None
    except ValueError as exc:  # a custom card that does not load
        raise typer.BadParameter(str(exc)) from None


def _flag_errors(exc: ValidationError) -> str:
    """Pydantic's errors in the CLI's words: --n-envs, not options.n_envs."""
    lines = []
    for error in exc.errors():
        name = str(error["loc"][-1]) if error["loc"] else "options"
        lines.append(f"{_flag(name)}: {error['msg']}")
    return "; ".join(lines)


def _flag(field: str) -> str:
    """The flag of a run spec's field: --env-card for card_spec, --n-envs for n_envs."""
    name = {"card_spec": "env-card", "fitness_metric": "fitness", "env_id": "env"}.get(field, field)
    return f"--{name.replace('_', '-')}"


def _cancel_on_interrupt(console: Console, run_id: str) -> threading.Event:
    """First Ctrl-C stops the sandboxes and keeps the run resumable; a second one aborts."""
    cancel = threading.Event()

    def handler(signum: int, frame: object) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        console.print(f"\nstopping; resume with: rewardforge run --resume {run_id}")

    signal.signal(signal.SIGINT, handler)
    return cancel


def _data_location(settings: Any) -> str:
    from sqlalchemy.engine import make_url

    url = make_url(settings.resolved_database_url).render_as_string(hide_password=True)
    return f"database {url}; artifacts {settings.artifacts_dir}"


def show(
    run_id: Annotated[str, typer.Argument(help="the run's id")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show a run: iterations, candidates, fitness, errors, final evaluation."""
    settings = get_settings()
    session_factory = get_session_factory(settings.resolved_database_url)
    with session_factory() as session:
        stored = _load(session, run_id)
        if as_json:
            typer.echo(json.dumps(run_summary(session, stored, detailed=True), default=str))
        else:
            print_run(
                Console(), session, stored, data_location=_data_location(settings), errors=True
            )


def list_runs(
    status: Annotated[str | None, typer.Option(help="only runs with this status")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
) -> None:
    """List recent runs."""
    settings = get_settings()
    session_factory = get_session_factory(settings.resolved_database_url)
    console = Console()
    with session_factory() as session:
        items, _ = query_runs(session, status=status, limit=limit, offset=0)
        table = runs_table(items, width=console.width)
    console.print(table)


def export(
    run_id: Annotated[str, typer.Argument(help="the run's id")],
    output: Annotated[Path, typer.Option("-o", "--output", help="where to write the module")],
) -> None:
    """Write the run's best reward function as a standalone Python module."""
    settings = get_settings()
    session_factory = get_session_factory(settings.resolved_database_url)
    with session_factory() as session:
        stored = _load(session, run_id)
        try:
            text = export_module(stored, best_candidate(session, stored))
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    output.write_text(text)
    typer.echo(f"wrote {output}")


def _load(session: Any, run_id: str) -> Run:
    stored = get_run(session, run_id=run_id)
    if stored is None:
        raise typer.BadParameter(f"no run with id {run_id!r}")
    return stored
