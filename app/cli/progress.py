"""Rich progress bars for a run: iterations, candidates, env steps."""

from __future__ import annotations

import threading
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)


class RunProgress:
    """A progress sink (see app.evolution.progress) that draws rich bars."""

    def __init__(self, console: Console, *, iterations: int, samples: int, timesteps: int):
        self.console = console
        self.timesteps = timesteps
        self.bars = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.iteration_bar = self.bars.add_task("iterations", total=iterations)
        self.candidate_bar = self.bars.add_task("candidates", total=samples)
        self.steps: dict[str, TaskID] = {}
        self.lock = threading.Lock()

    def __enter__(self) -> RunProgress:
        self.bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bars.stop()

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        with self.lock:
            self._handle(kind, data)

    def _handle(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "iteration.started":
            self.bars.update(
                self.iteration_bar,
                completed=data["index"],
                description=f"iteration {data['index'] + 1}/{data['total']}",
            )
            self.bars.reset(self.candidate_bar)
        elif kind == "final.started":
            self.bars.update(self.iteration_bar, completed=self.bars.tasks[0].total)
            self.bars.update(
                self.candidate_bar,
                total=data["trainings"],
                completed=0,
                description="final retraining",
            )
        elif kind == "llm.request":
            self.console.log(f"asking for {data['samples']} reward functions")
        elif kind in ("candidate.started", "candidate.heartbeat"):
            self._steps(data)
        elif kind == "candidate.result":
            self.bars.advance(self.candidate_bar)
            bar = self.steps.pop(data["id"], None)
            if bar is not None:
                self.bars.remove_task(bar)
            self._log_result(data)
        elif kind == "feedback.waiting":
            self.console.log(f"waiting for feedback on iteration {data['iteration'] + 1}")

    def _steps(self, data: dict[str, Any]) -> None:
        key = data.get("key") or data.get("id")
        if key is None:
            return
        if key not in self.steps:
            self.steps[key] = self.bars.add_task(f"  {key} env steps", total=self.timesteps)
        if "steps" in data:
            self.bars.update(self.steps[key], completed=data["steps"])

    def _log_result(self, data: dict[str, Any]) -> None:
        if data.get("status") == "done":
            self.console.log(f"{data['id']}: fitness {data['fitness']:.4g}")
        else:
            error = (data.get("error") or "").splitlines()[:1]
            self.console.log(f"{data['id']}: {data.get('status')} {error[0] if error else ''}")
