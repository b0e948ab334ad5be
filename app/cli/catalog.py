"""``rewardforge envs``: the environment catalog."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from envs import get_card, list_cards
from envs.card import EnvCard


def card_summary(card: EnvCard) -> dict:
    return {
        "env_id": card.env_id,
        "description": card.description,
        "action": card.action_description,
        "state_vars": [
            {"name": v.name, "shape": list(v.shape), "unit": v.unit, "description": v.description}
            for v in card.state_vars
        ],
        "fitness_metrics": [
            {
                "name": m.name,
                "description": m.description,
                "reduce": m.reduce,
                "success_threshold": m.success_threshold,
                "higher_is_better": m.higher_is_better,
                "unit": m.unit,
            }
            for m in card.fitness_metrics
        ],
        "training": {
            "algorithm": card.training.algorithm,
            "timesteps": card.training.timesteps,
            "n_envs": card.training.n_envs,
        },
    }


def envs(
    env_id: Annotated[str | None, typer.Argument(help="show one card in full")] = None,
    env_card: Annotated[
        str | None, typer.Option(help="a card of your own: pkg.mod:factory")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """List the environment catalog: id, description, fitness metrics."""
    try:
        cards = [get_card(env_id, env_card)] if env_id else list_cards()
    except (KeyError, ValueError) as exc:
        raise typer.BadParameter(str(exc.args[0] if exc.args else exc)) from None
    if as_json:
        typer.echo(json.dumps([card_summary(c) for c in cards], indent=2))
        return
    console = Console()
    if env_id:
        _print_card(console, cards[0])
        return
    table = Table(title="rewardforge environments")
    table.add_column("env id", style="bold", no_wrap=True)  # copied into `run --env`
    table.add_column("description", max_width=60)
    table.add_column("fitness metrics (first = default)")
    for card in cards:
        metrics = ", ".join(m.name for m in card.fitness_metrics)
        table.add_row(card.env_id, card.description.split(". ")[0], metrics)
    console.print(table)


def _print_card(console: Console, card: EnvCard) -> None:
    console.print(f"[bold]{card.env_id}[/bold]\n{card.description}\n")
    console.print(f"[bold]Actions[/bold]: {card.action_description}\n")
    table = Table(title="state variables")
    table.add_column("name", no_wrap=True)  # what reward code reads: never cut
    for column in ("shape", "unit", "meaning"):
        table.add_column(column)
    for var in card.state_vars:
        table.add_row(var.name, str(var.shape), var.unit, var.description)
    console.print(table)
    metrics = Table(title="fitness metrics")
    metrics.add_column("name", no_wrap=True)
    for column in ("success when", "meaning"):
        metrics.add_column(column)
    for m in card.fitness_metrics:
        op = ">=" if m.higher_is_better else "<="
        metrics.add_row(m.name, f"{op} {m.success_threshold:g} {m.unit}", m.description)
    console.print(metrics)
