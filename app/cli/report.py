"""The CLI's tables (the runs list, the end-of-run table) and the ``--json`` summary."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text
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
        "timesteps": run.timesteps,  # per candidate
        "options": run.options,  # how candidates trained (tuning: the card settings used)
        "best_candidate_id": run.best_candidate_id,
        "best_fitness": run.best_fitness,
        "baseline_fitness": run.baseline_fitness,
        "sparse_fitness": run.sparse_fitness,
        "normalized_score": run.normalized_score,
        "final": run.final or None,
        "winner_changed": ((run.final or {}).get("reselection") or {}).get("winner_changed"),
        "budget_stop": (run.final or {}).get("budget"),
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


def runs_table(runs: Sequence[Run], *, width: int = 80) -> RenderableType:
    """The runs, one row each, laid out for a terminal ``width`` columns wide.

    Ids are never cut or wrapped: they are what a user copies into ``show`` and
    ``export``. When room is short the creation time drops its year and the env
    id and status fold; the task takes what is left, cut with an ellipsis
    (``show`` prints it whole). Below ~76 columns each run gets its own lines.
    """
    rows: list[list[Any]] = [
        [
            r.id,
            r.status.replace("_", " "),
            r.env_id,
            "" if r.best_fitness is None else f"{r.best_fitness:.4g}",
            r.created_at,
            " ".join(r.task.split()),
        ]
        for r in runs
    ]
    size = [max([len(h)] + [len(row[i]) for row in rows]) for i, h in enumerate(_HEADERS[:4])]
    size.append(16)  # "%Y-%m-%d %H:%M"

    def room() -> int:  # what the task would get
        return width - sum(size) - _GAP * (len(_HEADERS) - 1)

    if room() < _MIN_TASK:  # the year goes, then status and env id fold
        size[4] = 11
    for column in (1, 2):
        if room() < _MIN_TASK:
            size[column] = max(min(size[column], _MIN_FOLD), size[column] - _MIN_TASK + room())
    if room() < _MIN_TASK:
        return Group(*(_run_lines(row) for row in rows))
    stamp = "%Y-%m-%d %H:%M" if size[4] == 16 else "%m-%d %H:%M"
    table = Table(title="runs", box=None, padding=(0, 1), pad_edge=False, show_edge=False)
    for header, column in zip(_HEADERS[:4], size[:4], strict=True):
        fold = header in ("status", "env")
        table.add_column(
            header,
            width=column,
            no_wrap=not fold,
            overflow="fold" if fold else "ellipsis",
            justify="right" if header == _BEST else "left",
        )
    table.add_column("created", no_wrap=True, width=size[4])
    table.add_column("task", no_wrap=True, overflow="ellipsis", width=room())
    for row in rows:
        table.add_row(*row[:4], f"{row[4]:{stamp}}", row[5])
    return table


def _run_lines(row: list[Any]) -> Text:
    run_id, status, env_id, best, created, task = row
    best = f"  {_BEST} {best}" if best else ""
    return Text.assemble(
        (run_id, "bold"), f"  {status}  {env_id}{best}  {created:%Y-%m-%d %H:%M}\n  {task}"
    )


# The best candidate's fitness from its one search seed (``show`` prints the final means).
_BEST = "search best"
_HEADERS = ("id", "status", "env", _BEST, "created", "task")
_GAP = 2  # the padding between two columns
_MIN_TASK = 12
_MIN_FOLD = 10  # status and env id fold to this width when room is short


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
    table = Table(
        title="candidates: trusted fitness per iteration, one search seed each "
        "(* the best; the final evaluation's means are below)"
    )
    table.add_column("iteration")
    for sample in range(run.samples):
        table.add_column(f"#{sample}", justify="right")
    for index in range(run.iterations):
        cells = []
        for sample in range(run.samples):
            c = next(
                (c for c in search if c.iteration_index == index and c.sample_index == sample), None
            )
            cells.append(_cell(c, best=run.best_candidate_id, timesteps=run.timesteps))
        table.add_row(str(index), *cells)
    console.print(table)
    screened = sum(1 for c in search if c.status == "screened")
    if screened:
        console.print(
            f"screened out before training: {screened} reward(s), "
            f"{screened * run.timesteps:,} env steps saved"
        )
    if errors:
        for c in search:
            if c.error:
                first = c.error.strip().splitlines()[0][:160]
                where = f" iteration {c.iteration_index} #{c.sample_index} {c.error_kind}: "
                console.print(Text.assemble("  ", (c.id, "red"), where, first))
    _print_stops(console, run.final or {})
    if (run.final or {}).get("candidate"):
        _print_final(console, run)
    if run.error:
        console.print(f"[red]error:[/red] {run.error}")
    console.print(f"data: {data_location}")


def _cell(c: Candidate | None, *, best: str | None, timesteps: int) -> str:
    """A candidate's fitness; a stopped one's with the share of the budget it trained
    (a partial result, not an error); else its status (a cancelled one waits to train)."""
    if c is None:
        return ""
    if c.status == "done":
        text = _fmt(c.fitness)
        return f"[bold green]{text}*[/bold green]" if c.id == best else text
    if c.status == "stopped" and c.fitness is not None:
        info = c.halving or {}
        rung = f"rung {info['rung'] + 1}/{info['rungs']}" if "rung" in info else "early"
        share = f", {info['budget'] / timesteps:.0%}" if info.get("budget") and timesteps else ""
        return f"[dim]{_fmt(c.fitness)} (stopped at {rung}{share})[/dim]"
    if c.status == "pending" and c.error_kind == "cancelled":
        return "cancelled"
    return f"[red]{c.status}[/red]" if c.status in ("invalid", "failed") else c.status


def _print_stops(console: Console, final: dict[str, Any]) -> None:
    """Why the search stopped early, and what the top-k reselection chose."""
    budget = final.get("budget")
    if budget:
        console.print(f"[yellow]budget:[/yellow] {budget.get('message', budget.get('limit'))}")
    chosen = final.get("reselection")
    if chosen:
        means = ", ".join(
            f"{row['id']} {_fmt(row.get('search_fitness'))} -> {_fmt(row.get('mean'))}"
            for row in chosen.get("candidates", [])
        )
        verdict = (
            f"[bold]the winner changed[/bold] to {chosen['winner_id']} "
            f"(single-seed best was {chosen['search_winner_id']})"
            if chosen.get("winner_changed")
            else f"the single-seed best {chosen['winner_id']} held"
        )
        console.print(
            f"top {chosen.get('top_k')} retrained on fresh seeds (search -> mean): {means}; "
            + verdict
        )


def _print_final(console: Console, run: Run) -> None:
    baseline = run.final.get("env_is_baseline", True)
    table = Table(title=f"final evaluation over {run.final_seeds} seeds")
    for column in ("reward", "mean fitness", "success rate", "per seed"):
        table.add_column(column)
    labels = {
        "candidate": "best evolved reward",
        "env": "env's own reward (human)" if baseline else "env's own reward (not this task's)",
        "fitness": "fitness as reward (sparse)",
    }
    for source, label in labels.items():
        block = run.final.get(source) or {}
        seeds = ", ".join(_fmt(v) for v in block.get("fitness", []))
        rate = block.get("success_rate")
        table.add_row(label, _fmt(block.get("mean")), "—" if rate is None else f"{rate:.0%}", seeds)
    console.print(table)
    gain = run.final.get("gain_over_sparse")
    if gain is not None:
        console.print(f"evolved reward over the sparse reward: {gain:+.4g} {run.fitness_metric}")
    if not baseline:
        console.print(
            "human-normalised score: not computed (the env's own reward does not pay for "
            "this task, so it is no human baseline; compare with the sparse reward)"
        )
        return
    score = run.normalized_score
    console.print(
        "human-normalised score: "
        + (
            "undefined (human and sparse baselines are equal)"
            if score is None
            else f"[bold]{score:.3f}[/bold]"
        )
    )
