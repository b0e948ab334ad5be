"""The worker: claim a queued (or abandoned) run, execute it under a lease, repeat."""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback

from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db.repository import claim_run, release_lease, set_run_status
from app.evolution.loop import execute_run
from app.evolution.progress import Progress, ignore_progress
from app.evolution.runner import make_context
from app.execution.executor import Executor, make_executor
from app.worker.lease import LeaseKeeper

log = logging.getLogger(__name__)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"


class Worker:
    """Executes runs from the database queue, one at a time."""

    def __init__(
        self,
        settings: Settings,
        session_factory: sessionmaker[Session],
        *,
        worker_id: str | None = None,
        executor: Executor | None = None,
        progress: Progress = ignore_progress,
        poll_seconds: float = 1.0,
    ):
        self.settings = settings
        self.session_factory = session_factory
        self.worker_id = worker_id or default_worker_id()
        self.executor = executor or make_executor(settings)
        self.progress = progress
        self.poll_seconds = poll_seconds
        self.stop = threading.Event()

    def run_forever(self) -> None:
        log.info("worker %s waiting for runs", self.worker_id)
        while not self.stop.is_set():
            if self.run_once() is None:
                self.stop.wait(self.poll_seconds)

    def run_once(self) -> str | None:
        """Claim and execute one run; returns its id, or None if the queue was empty."""
        with self.session_factory() as session:
            run = claim_run(
                session, worker_id=self.worker_id, lease_seconds=self.settings.lease_seconds
            )
            session.commit()
            run_id = run.id if run is not None else None
        if run_id is None:
            return None
        log.info("worker %s claimed run %s", self.worker_id, run_id)
        self.execute(run_id)
        return run_id

    def execute(self, run_id: str) -> None:
        keeper = LeaseKeeper(
            self.session_factory,
            run_id=run_id,
            worker_id=self.worker_id,
            lease_seconds=self.settings.lease_seconds,
        )
        with keeper:
            stop_watch = threading.Thread(target=self._forward_stop, args=(keeper,), daemon=True)
            stop_watch.start()
            ctx = make_context(
                settings=self.settings,
                session_factory=self.session_factory,
                progress=self.progress,
                should_cancel=keeper.should_stop,
                executor=self.executor,
            )
            ctx.owns_run = lambda: not keeper.lost.is_set()
            try:
                status = execute_run(ctx, run_id)
                log.info("run %s ended: %s", run_id, status)
            except Exception as exc:
                log.exception("run %s failed", run_id)
                if not keeper.lost.is_set():
                    self._fail(run_id, exc)
        if not keeper.lost.is_set():
            with self.session_factory() as session:
                release_lease(session, run_id=run_id, worker_id=self.worker_id)
                session.commit()

    def _forward_stop(self, keeper: LeaseKeeper) -> None:
        while keeper.active:
            if self.stop.wait(0.5):
                keeper.local_stop.set()
                return

    def _fail(self, run_id: str, exc: Exception) -> None:
        tail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        with self.session_factory() as session:
            set_run_status(
                session,
                run_id=run_id,
                status="failed",
                error=f"the run stopped on an internal error: {tail}",
            )
            session.commit()
