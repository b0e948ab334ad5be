"""The executor interface: train and evaluate candidates, yield results as they land.

A unit of work is a :class:`CandidateJob` (a training spec and, usually, an
evaluation spec); its outcome a :class:`CandidateResult`. Executors differ only
in where :func:`app.execution.candidate.run_candidate` runs (local threads that
start sandbox processes, or Ray tasks on a cluster's nodes). Progress events
reach the caller's ``on_event(kind, data)`` in the caller's own thread, with
``kind`` one of ``"started"``, ``"heartbeat"`` (``data["steps"]`` env steps done
of ``data["total"]``) and ``"finished"``; ``data["key"]`` names the job.
A result is "stopped" only when successive halving (app.evolution.halving)
dropped the candidate early, and "screened" when the training sandbox found, before
training, that the reward ranks the run's archived episodes too unlike the fitness
(``TrainSpec.screen_min_correlation``; app.evolution.screening).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from app.config import Settings
from sandbox.spec import EvalSpec, TrainSpec

EventCallback = Callable[[str, dict[str, Any]], None]
ResultStatus = Literal["done", "invalid", "failed", "cancelled", "stopped", "screened"]


@dataclass
class CandidateJob:
    """Train ``train``, then (if given) evaluate the policy with ``eval``; ``key`` names it."""

    key: str
    train: TrainSpec
    eval: EvalSpec | None = None


@dataclass
class CandidateResult:
    """What came of one job. ``stats`` is sandbox.stats' JSON, ``evaluation`` the
    evaluator's; ``fitness`` and ``success_rate`` come from the evaluation only.

    ``error_kind`` says whose failure it was. The candidate's: "smoke", "reward",
    "training", "evaluation", "deadline", "heartbeat", "crashed", "refused",
    "disk_quota" (it wrote more than REWARDFORGE_SANDBOX_DISK_MB; what it wrote is
    deleted). Not the candidate's: "cancelled"; "halving" (successive halving
    stopped it); "executor" (the service's own code or a lost Ray worker); and
    "storage": status "failed" because the service's own storage (the artifacts
    or output directory, on this machine or a Ray node) turned read-only, filled
    up or failed (EROFS, ENOSPC, EIO, EDQUOT), with ``error`` naming the path and
    the errno (app.execution.storage). Its files may be incomplete; the reward
    code is not to blame, so the caller should stop the run, resumably, and train
    the candidate again on resume.
    """

    key: str
    status: ResultStatus
    error: str | None = None
    error_kind: str | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)
    fitness: float | None = None
    success_rate: float | None = None
    env_steps: int = 0
    train_seconds: float | None = None
    sandbox_level: str | None = None
    artifact_dir: str | None = None
    video_path: str | None = None


class Executor(ABC):
    """Runs candidate jobs; results are yielded in the order they finish."""

    @abstractmethod
    def run(
        self,
        jobs: Sequence[CandidateJob],
        *,
        on_event: EventCallback | None = None,
        should_cancel: Callable[[], bool] | None = None,
    ) -> Iterator[CandidateResult]:
        """Yield one result per job. ``should_cancel`` is polled about twice a second;
        once it returns True, running sandboxes are killed and every job not yet
        finished is yielded with status "cancelled". Closing the iterator early
        cancels what is still running."""


def make_executor(settings: Settings) -> Executor:
    """The executor the settings ask for."""
    if settings.executor == "local":
        from app.execution.local import LocalExecutor

        return LocalExecutor.from_settings(settings)
    if settings.executor == "ray":
        try:
            from app.execution.ray_executor import RayExecutor
        except ImportError as exc:
            raise ValueError(
                f"REWARDFORGE_EXECUTOR=ray needs Ray ({exc}); "
                "install it with `pip install 'rewardforge[ray]'`"
            ) from None
        return RayExecutor.from_settings(settings)
    raise ValueError(
        f"unknown executor {settings.executor!r}; set REWARDFORGE_EXECUTOR to local or ray"
    )
