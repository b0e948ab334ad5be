"""Training progress, live: what a sandbox reports while it trains reaches the
candidate's row (env steps, statistics so far) and the run's event log.

The executor calls back on every heartbeat (every ~2 s per sandbox); the rows
are written at most once per ``interval_s`` per candidate, and a candidate's
statistics only when its sandbox wrote a new checkpoint to ``stats.json``
(read through the same size cap and schema as the final statistics).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from app.db.run_store import RunStore
from app.execution.executor import CandidateJob
from app.execution.reports import STATS_MAX_BYTES, TrainStats, read_report
from sandbox.spec import STATS_FILE

PROGRESS_INTERVAL_S = 1.0


class LiveProgress:
    """Turns executor events into :meth:`RunStore.record_progress` calls, throttled."""

    def __init__(
        self,
        store: RunStore,
        run_id: str,
        jobs: Sequence[CandidateJob],
        *,
        interval_s: float = PROGRESS_INTERVAL_S,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.interval_s = interval_s
        self.outputs = {job.key: Path(job.train.output_dir) for job in jobs}
        self.last_write: dict[str, float] = {}
        self.last_checkpoints: dict[str, int] = {}

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        key = data.get("key")
        if kind not in ("started", "heartbeat") or not isinstance(key, str):
            return
        now = time.monotonic()
        if kind == "heartbeat" and now - self.last_write.get(key, -1e9) < self.interval_s:
            return
        self.last_write[key] = now
        steps = data.get("steps")
        self.store.record_progress(
            self.run_id,
            key,
            steps if isinstance(steps, int) else 0,
            total=data.get("total"),
            stats=self._new_stats(key) if kind == "heartbeat" else None,
        )

    def _new_stats(self, key: str) -> dict[str, Any] | None:
        """The sandbox's statistics when they hold a checkpoint not yet stored, else None."""
        out = self.outputs.get(key)
        if out is None or not (out / STATS_FILE).is_file():
            return None
        try:
            stats = read_report(out / STATS_FILE, TrainStats, STATS_MAX_BYTES)
        except (OSError, ValueError):
            return None  # not written yet, or mid-way: the next heartbeat reads it again
        if len(stats.checkpoints) <= self.last_checkpoints.get(key, 0):
            return None
        self.last_checkpoints[key] = len(stats.checkpoints)
        return stats.model_dump()
