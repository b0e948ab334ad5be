"""A scripted executor behind the real Executor interface: no sandbox, no training.

The loop, halving, feedback and selection tests drive real runs through it: the
run store, the proposer (the offline one or an LLM endpoint), the prompts and
the database are all real; only the training result is scripted. A reward's
fitness is read from a ``SCRIPTED_FITNESS = X`` line in its code (the fake LLM writes
them), else derived from the code's hash, so a test knows which candidate wins.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from app.execution.executor import CandidateJob, CandidateResult, EventCallback, Executor
from sandbox.spec import CHECKPOINT_DIR

MARKER = re.compile(r"SCRIPTED_FITNESS = (-?[0-9.]+)")
FINAL_FITNESS = {"env": 1.0, "fitness": 0.0}  # the baselines' scripted fitness


def scripted_fitness(job: CandidateJob) -> float:
    code = job.train.reward_code
    if code is None:
        return FINAL_FITNESS[job.train.reward_source]
    found = MARKER.search(code)
    if found:
        return float(found.group(1))
    return int(hashlib.sha256(code.encode()).hexdigest()[:6], 16) / 0xFFFFFF


def reward_code(fitness: float, tag: str = "") -> str:
    """Reward code the scripted executor scores at ``fitness`` (``tag`` varies the text)."""
    return (
        "import numpy as np\n\n"
        f"SCRIPTED_FITNESS = {fitness}\n"
        f"TAG = {tag!r}\n\n\n"
        "def compute_reward(state, action):\n"
        "    speed = state['velocity'] * 1.0\n"
        "    return speed, {'speed': speed}\n"
    )


class ScriptedExecutor(Executor):
    """Yields a done result per job, with the fitness ``fitness(job)`` scripts."""

    def __init__(
        self,
        fitness: Callable[[CandidateJob], float] = scripted_fitness,
        *,
        spread: float | None = None,
    ) -> None:
        """``spread``: the evaluation's episode spread (fitness_std over 5 episodes);
        None: one episode, as the fast tests evaluate."""
        self.fitness = fitness
        self.spread = spread
        self.jobs: list[CandidateJob] = []

    def run(
        self,
        jobs: Sequence[CandidateJob],
        *,
        on_event: EventCallback | None = None,
        should_cancel: Callable[[], bool] | None = None,
    ) -> Iterator[CandidateResult]:
        for job in jobs:
            self.jobs.append(job)
            if should_cancel is not None and should_cancel():
                yield CandidateResult(job.key, "cancelled", "cancelled", "cancelled")
                continue
            steps = job.train.timesteps
            if on_event is not None:
                on_event("heartbeat", {"key": job.key, "steps": steps, "total": steps})
            out = Path(job.train.output_dir)
            (out / CHECKPOINT_DIR).mkdir(parents=True, exist_ok=True)  # halving resumes here
            fitness = self.fitness(job)
            evaluation: dict = {"fitness": fitness, "episodes": 1}
            if self.spread is not None:
                evaluation = {"fitness": fitness, "episodes": 5, "fitness_std": self.spread}
            yield CandidateResult(
                job.key,
                "done",
                stats={"steps": steps, "checkpoints": [{"steps": steps, "fitness": fitness}]},
                evaluation=evaluation,
                fitness=fitness,
                success_rate=1.0 if fitness > 0 else 0.0,
                env_steps=steps,
                train_seconds=0.01,
                sandbox_level="none (scripted)",
                artifact_dir=str(out),
            )
