"""The end-of-run table and the ``--json`` summary."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Candidate, Run


def _candidates(session: Session, run: Run) -> list[Candidate]:
    return list(
        session.scalars(
            select(Candidate)
            .where(Candidate.run_id == run.id)
            .order_by(Candidate.iteration_index, Candidate.sample_index)
        )
    )


def run_summary(session: Session, run: Run, *, detailed: bool = False) -> dict[str, Any]:
    """One JSON object for scripts."""
    summary: dict[str, Any] = {
        "run_id": run.id,
        "status": run.status,
        "env_id": run.env_id,
        "fitness_metric": run.fitness_metric,
        "best_candidate_id": run.best_candidate_id,
        "best_fitness": run.best_fitness,
        "baseline_fitness": run.baseline_fitness,
        "sparse_fitness": run.sparse_fitness,
        "normalized_score": run.normalized_score,
        "final": run.final or None,
        "error": run.error,
    }
    if detailed:
        summary["candidates"] = [
            {
                "id": c.id,
                "iteration": c.iteration_index,
                "sample": c.sample_index,
                "kind": c.kind,
                "reward_source": c.reward_source,
                "status": c.status,
                "fitness": c.fitness,
                "success_rate": c.success_rate,
                "error_kind": c.error_kind,
                "error": c.error,
                "sandbox_level": c.sandbox_level,
            }
            for c in _candidates(session, run)
        ]
    return summary


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def print_run(
    console: Console, session: Session, run: Run, *, data_location: str, errors: bool = False
) -> None:
    """Fitness of every candidate per iteration, then the final evaluation."""
    console.print(
        f'\n[bold]run {run.id}[/bold]  {run.env_id}  "{run.task}"  '
        f"fitness metric: {run.fitness_metric}  status: [bold]{run.status}[/bold]"
    )
    rows = _candidates(session, run)
    search = [c for c in rows if c.kind == "search"]
    table = Table(title="candidates (trusted fitness per iteration)")
    table.add_column("iteration")
    for sample in range(run.samples):
        table.add_column(f"#{sample}", justify="right")
    for index in range(run.iterations):
        cells = []
        for sample in range(run.samples):
            c = next(
                (c for c in search if c.iteration_index == index and c.sample_index == sample), None
            )
            cells.append(_cell(c, best=run.best_candidate_id))
        table.add_row(str(index + 1), *cells)
    console.print(table)
    if errors:
        for c in search:
            if c.error:
                first = c.error.strip().splitlines()[0][:160]
                console.print(
                    f"  [red]{c.id}[/red] it{c.iteration_index + 1}#{c.sample_index} "
                    f"{c.error_kind}: {first}"
                )
    if run.final:
        _print_final(console, run)
    if run.error:
        console.print(f"[red]error:[/red] {run.error}")
    console.print(f"data: {data_location}")


def _cell(c: Candidate | None, *, best: str | None) -> str:
    if c is None:
        return ""
    if c.status == "done":
        text = _fmt(c.fitness)
        return f"[bold green]{text}*[/bold green]" if c.id == best else text
    return f"[red]{c.status}[/red]" if c.status in ("invalid", "failed") else c.status


def _print_final(console: Console, run: Run) -> None:
    table = Table(title=f"final evaluation over {run.final_seeds} seeds")
    for column in ("reward", "mean fitness", "success rate", "per seed"):
        table.add_column(column)
    labels = {
        "candidate": "best evolved reward",
        "env": "env's own reward (human)",
        "fitness": "fitness as reward (sparse)",
    }
    for source, label in labels.items():
        block = run.final.get(source) or {}
        seeds = ", ".join(_fmt(v) for v in block.get("fitness", []))
        rate = block.get("success_rate")
        table.add_row(label, _fmt(block.get("mean")), "—" if rate is None else f"{rate:.0%}", seeds)
    console.print(table)
    score = run.normalized_score
    console.print(
        "human-normalised score: "
        + (
            "undefined (human and sparse baselines are equal)"
            if score is None
            else f"[bold]{score:.3f}[/bold]"
        )
    )
