"""The ``rewardforge`` command line."""

from __future__ import annotations

import typer

from app.cli import catalog, db, doctor, runs, service

app = typer.Typer(
    help="Turn a sentence into a reward function: an LLM writes reward code, "
    "policies train on it, a trusted evaluator keeps the best.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("envs")(catalog.envs)
app.command("run")(runs.run)
app.command("show")(runs.show)
app.command("runs")(runs.list_runs)
app.command("export")(runs.export)
app.command("serve")(service.serve)
app.command("worker")(service.worker)
app.command("doctor")(doctor.doctor)
app.add_typer(db.app, name="db")


def main() -> None:
    app()
