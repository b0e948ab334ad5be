"""One candidate from specs to result: train in a sandbox, then evaluate.

Every executor runs this same function, wherever it runs it. A fault of the
service's own storage (:mod:`.storage`) ends the candidate as "storage",
whether the service met it or the sandbox failed while it lasted.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.execution import storage
from app.execution.executor import CandidateJob, CandidateResult, EventCallback
from app.execution.launcher import LaunchOutcome, launch_evaluation, launch_training
from app.execution.reports import (
    SCREEN_MAX_BYTES,
    STATS_MAX_BYTES,
    Screen,
    TrainStats,
    read_report,
)
from sandbox.spec import SCREEN_FILE, STATS_FILE, VIDEO_FILE

_STATUS = {
    "ok": "done",
    "invalid": "invalid",
    "failed": "failed",
    "cancelled": "cancelled",
    "screened": "screened",
}
_QUOTED_CHARS = 1000  # of the candidate's own error, after a storage fault


def run_candidate(
    job: CandidateJob,
    *,
    deadline_s: float,
    heartbeat_timeout_s: float | None,
    should_cancel: Callable[[], bool],
    emit: EventCallback,
) -> CandidateResult:
    """Train (and evaluate) ``job``; never raises for anything the sandbox did, nor for
    a fault of the service's storage."""
    key, total = job.key, job.train.timesteps
    if should_cancel():
        return CandidateResult(key, "cancelled", "cancelled before it started", "cancelled")
    emit("started", {"key": key, "steps": 0, "total": total})
    out = Path(job.train.output_dir)
    try:
        result = _train_and_evaluate(job, deadline_s, heartbeat_timeout_s, should_cancel, emit)
    except OSError as exc:
        if storage.fault(exc) is None:
            raise
        result = storage.failure(key, exc, str(out))
    _check_storage(result, out.parent)
    emit(
        "finished", {"key": key, "status": result.status, "steps": result.env_steps, "total": total}
    )
    return result


def _check_storage(result: CandidateResult, directory: Path) -> None:
    """A failed candidate whose service's storage fails a test write in ``directory``
    (beside its output, where no sandbox writes) failed for the storage."""
    if result.status != "failed" or result.error_kind == "storage":
        return
    if problem := storage.probe(directory):
        quoted = (result.error or "")[:_QUOTED_CHARS]
        result.error = f"{problem}\n(the candidate had ended: {quoted})"
        result.error_kind = "storage"


def _train_and_evaluate(
    job: CandidateJob,
    deadline_s: float,
    heartbeat_timeout_s: float | None,
    should_cancel: Callable[[], bool],
    emit: EventCallback,
) -> CandidateResult:
    key, total = job.key, job.train.timesteps
    trained = launch_training(
        job.train,
        deadline_s=deadline_s,
        heartbeat_timeout_s=heartbeat_timeout_s,
        should_cancel=should_cancel,
        on_heartbeat=lambda steps: emit("heartbeat", {"key": key, "steps": steps, "total": total}),
    )
    out = Path(job.train.output_dir)
    stats = _stats(out)
    if job.train.screen_archive and (screen := _screen(out)) is not None:
        stats["screen"] = screen
    result = CandidateResult(
        key,
        _STATUS[trained.status],  # type: ignore[arg-type]
        trained.error,
        trained.error_kind,
        stats=stats,
        env_steps=int(stats.get("steps") or trained.report.get("steps") or 0),
        train_seconds=trained.seconds,
        sandbox_level=trained.sandbox_level,
        artifact_dir=str(out),
    )
    if trained.status == "ok" and job.eval is not None:
        _evaluate(result, job, deadline_s, should_cancel)
    return result


def _evaluate(
    result: CandidateResult,
    job: CandidateJob,
    deadline_s: float,
    should_cancel: Callable[[], bool],
) -> None:
    assert job.eval is not None
    evaluated = launch_evaluation(job.eval, deadline_s=deadline_s, should_cancel=should_cancel)
    if evaluated.status != "ok":
        result.status = _STATUS[evaluated.status]  # type: ignore[assignment]
        result.error = f"evaluation: {evaluated.error}"
        result.error_kind = _eval_kind(evaluated)
        return
    report = evaluated.report
    result.evaluation = report
    result.fitness = report["fitness"]
    result.success_rate = report["success_rate"]
    if report["video"]:
        result.video_path = str(Path(job.eval.output_dir) / VIDEO_FILE)
    if result.fitness is None:
        result.status = "failed"
        result.error = "evaluation: the fitness was not a finite number"
        result.error_kind = "evaluation"


def _eval_kind(outcome: LaunchOutcome) -> str | None:
    """Kill reasons pass through; anything else the evaluator did is "evaluation"."""
    if outcome.error_kind in ("deadline", "cancelled", "disk_quota"):
        return outcome.error_kind
    return "evaluation"


def _screen(out: Path) -> dict[str, Any] | None:
    """The screen of the reward on the run's archive (None when it did not screen)."""
    try:
        return read_report(out / SCREEN_FILE, Screen, SCREEN_MAX_BYTES).model_dump()
    except ValueError:
        return None


def _stats(out: Path) -> dict[str, Any]:
    """The statistics, even of a failed run (they show how far it got); {} if none."""
    try:
        return read_report(out / STATS_FILE, TrainStats, STATS_MAX_BYTES).model_dump()
    except ValueError:
        return {}
