"""Rich progress bars for a run: iterations, candidates, env steps."""

from __future__ import annotations

import threading
from datetime import datetime
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
from rich.text import Text


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
                description=f"iteration {data['index']} (0..{data['total'] - 1})",
            )
            self.bars.reset(self.candidate_bar)
        elif kind == "final.started":
            self.bars.update(self.iteration_bar, completed=self.bars.tasks[0].total)
            self.bars.stop_task(self.iteration_bar)  # its clock stops where the search ended
            # A stage of its own: its clock starts now, not with the last iteration.
            self.bars.reset(
                self.candidate_bar, total=data["trainings"], description="final retraining"
            )
        elif kind == "llm.request":
            self.say(f"asking for {data['samples']} reward functions")
        elif kind in ("candidate.started", "candidate.heartbeat"):
            self._steps(data)
        elif kind == "candidate.result":
            self.bars.advance(self.candidate_bar)
            bar = self.steps.pop(data["id"], None)
            if bar is not None:
                self.bars.remove_task(bar)
            self._log_result(data)
        elif kind == "feedback.waiting":
            self.say(f"waiting for feedback on iteration {data['iteration']}")

    def _steps(self, data: dict[str, Any]) -> None:
        key = data.get("key") or data.get("id")
        if key is None:
            return
        if key not in self.steps:
            self.steps[key] = self.bars.add_task(f"  {key} env steps", total=self.timesteps)
        if "steps" in data:
            self.bars.update(self.steps[key], completed=data["steps"])

    def say(self, message: str) -> None:
        """One timestamped line above the bars. Plain text: an error quoting
        ``[brackets]`` is shown as written, not read as markup; and no
        ``progress.py:66`` source tag, which tells a user nothing."""
        stamp = Text(f"[{datetime.now():%H:%M:%S}] ", style="log.time")
        self.console.print(stamp + Text(message))

    def _log_result(self, data: dict[str, Any]) -> None:
        self.say(f"{data['id']}: {result_line(data)}")


def result_line(data: dict[str, Any]) -> str:
    """What became of a candidate, in one line: its fitness, or why it has none.

    An error that already starts with the status ("stopped by successive halving
    after ...") is not prefixed with the status a second time.
    """
    status = str(data.get("status") or "")
    if status == "done":
        fitness = data.get("fitness")
        seed = "one final-test seed" if data.get("kind") == "final" else "1 search seed"
        return "fitness –" if fitness is None else f"fitness {fitness:.4g} ({seed})"
    lines = (data.get("error") or "").strip().splitlines()
    first = lines[0].strip() if lines else ""
    if not first:
        return status
    return first if first.lower().startswith(status.lower()) else f"{status}: {first}"
