"""The local executor: a pool of threads, each watching one sandbox process.

The heavy work happens in the sandbox subprocesses, so threads are enough.
Events and results travel through one queue to the thread iterating
:meth:`LocalExecutor.run`, which is also the only thread that calls the
caller's ``on_event`` and ``should_cancel``.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from app.config import Settings
from app.execution.candidate import run_candidate
from app.execution.executor import CandidateJob, CandidateResult, EventCallback, Executor
from app.execution.storage import failure

POLL_SECONDS = 0.5


class LocalExecutor(Executor):
    """Run up to ``workers`` sandboxes at once on this machine."""

    def __init__(
        self,
        workers: int = 1,
        *,
        deadline_s: float = 3600.0,
        heartbeat_timeout_s: float | None = 120.0,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.workers = workers
        self.deadline_s = deadline_s
        self.heartbeat_timeout_s = heartbeat_timeout_s

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalExecutor:
        return cls(
            settings.workers,
            deadline_s=settings.candidate_deadline_s,
            heartbeat_timeout_s=settings.heartbeat_timeout_s,
        )

    def run(
        self,
        jobs: Sequence[CandidateJob],
        *,
        on_event: EventCallback | None = None,
        should_cancel: Callable[[], bool] | None = None,
    ) -> Iterator[CandidateResult]:
        inbox: queue.Queue[tuple[str, Any, Any]] = queue.Queue()
        cancel = threading.Event()

        def work(job: CandidateJob) -> None:
            try:
                result = run_candidate(
                    job,
                    deadline_s=self.deadline_s,
                    heartbeat_timeout_s=self.heartbeat_timeout_s,
                    should_cancel=cancel.is_set,
                    emit=lambda kind, data: inbox.put(("event", kind, data)),
                )
            except Exception as exc:  # the service's own failure: report, never hang
                result = failure(job.key, exc)
            inbox.put(("result", result, None))

        pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="sandbox")
        remaining = len(jobs)
        try:
            for job in jobs:
                pool.submit(work, job)
            while remaining:
                if should_cancel is not None and not cancel.is_set() and should_cancel():
                    cancel.set()
                try:
                    kind, payload, data = inbox.get(timeout=POLL_SECONDS)
                except queue.Empty:
                    continue
                if kind == "event":
                    if on_event is not None:
                        on_event(payload, data)
                    continue
                remaining -= 1
                yield payload
        finally:
            if remaining:
                cancel.set()
            pool.shutdown(wait=True, cancel_futures=True)
