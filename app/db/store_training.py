"""The run store's verbs for training: claims, live progress, results, halving rungs."""

from __future__ import annotations

from typing import Any

from app.db.candidates import (
    claim_candidate,
    record_candidate_progress,
    record_candidate_result,
)
from app.db.events import add_event
from app.db.models import Candidate
from app.db.store_base import (
    RESULT_FIELDS,
    StoreBase,
    TrainingResult,
)


class TrainingVerbs(StoreBase):
    def claim(self, candidate_id: str) -> bool:
        """pending -> queued, only if nobody else moved it (never trained twice at once);
        it shows as training once its sandbox reports progress."""
        with self._tx() as session:
            return claim_candidate(session, candidate_id=candidate_id, to_status="queued")

    def record_progress(
        self,
        run_id: str,
        candidate_id: str,
        env_steps: int,
        *,
        total: int | None = None,
        stats: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """A candidate's env steps so far (and its statistics, when a checkpoint landed):
        queued -> training on the first report. Logs ``candidate.progress`` with the
        newest checkpoint's means; returns the event, or None for a finished candidate."""
        with self._tx() as session:
            row = record_candidate_progress(
                session, candidate_id=candidate_id, env_steps=env_steps, stats=stats
            )
            if row is None:
                return None
            data: dict[str, Any] = {"id": row.id, "env_steps": row.env_steps, "total": total}
            if stats is not None:
                data["checkpoint"] = _checkpoint_means(stats)
            add_event(session, run_id=run_id, kind="candidate.progress", data=data)
            return data

    def record_result(self, result: TrainingResult) -> Candidate:
        """A candidate's final result. A cancelled one, or one the service's own storage
        failed (error_kind "storage"), goes back to pending: it trains on resume."""
        again = result.status == "cancelled" or result.error_kind == "storage"
        status = "pending" if again else result.status
        with self._tx() as session:
            return record_candidate_result(
                session,
                candidate_id=result.key,
                status=status,
                stats=result.stats or {},
                evaluation=result.evaluation or {},
                fitness=result.fitness,
                success_rate=result.success_rate,
                env_steps=result.env_steps or 0,
                train_seconds=result.train_seconds,
                artifact_dir=result.artifact_dir,
                sandbox_level=result.sandbox_level,
                error_kind=result.error_kind,
                error=result.error,
                overwrite=True,
            )

    def record_rung(self, run_id: str, result: TrainingResult, rung: int) -> dict[str, Any]:
        """A halving rung's result on the row; the status stays training. Returns the event."""
        with self._tx() as session:
            row = session.get(Candidate, result.key)
            assert row is not None
            for name in RESULT_FIELDS:
                setattr(row, name, getattr(result, name))
            row.env_steps = result.env_steps or 0
            data = {
                "id": row.id,
                "rung": rung,
                "fitness": result.fitness,
                "env_steps": row.env_steps,
                "train_seconds": row.train_seconds,
            }
            add_event(session, run_id=run_id, kind="candidate.rung", data=data)
            return data

    def mark_kept(
        self, run_id: str, halving: dict[str, dict[str, Any]], event: dict[str, Any]
    ) -> None:
        """A halving cut: the survivors' rows say so, in one transaction with the event."""
        with self._tx() as session:
            for candidate_id, info in halving.items():
                row = session.get(Candidate, candidate_id)
                assert row is not None
                row.evaluation = {**(row.evaluation or {}), "halving": info}
            add_event(session, run_id=run_id, kind="halving.cut", data=event)


def _checkpoint_means(stats: dict[str, Any]) -> dict[str, Any] | None:
    """The newest checkpoint's step count and means: what a progress event carries."""
    checkpoints = stats.get("checkpoints") or []
    if not checkpoints:
        return None
    last = checkpoints[-1]

    def mean(summary: Any) -> Any:
        return summary.get("mean") if isinstance(summary, dict) else None

    return {
        "steps": last.get("steps"),
        "episodes": last.get("episodes"),
        "reward": mean(last.get("reward")),
        "fitness": mean(last.get("fitness")),
        "components": {k: mean(v) for k, v in (last.get("components") or {}).items()},
    }
