"""The worker: claim a queued (or abandoned) run, execute it under a lease, repeat."""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db.repository import claim_run, release_lease, set_run_status
from app.db.run_store import RunStore
from app.evolution.loop import execute_run
from app.evolution.progress import Progress, ignore_progress
from app.evolution.runner import make_context
from app.execution.executor import Executor, make_executor
from app.worker.lease import LeaseKeeper
from app.worker.retry import Backoff, database_error, describe_database_error

log = logging.getLogger(__name__)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"


class Worker:
    """Executes runs from the database queue, one at a time.

    A database outage stops nothing for good: the worker asks again with
    backoff, and a run the outage interrupted goes back to the queue (not to
    failed) once the database answers, to resume at its first unfinished
    candidate. ``problem`` says what keeps the worker from working, if anything.
    """

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
        self.problem: str | None = None

    def run_forever(self) -> None:
        log.info("worker %s waiting for runs", self.worker_id)
        backoff = Backoff()
        while not self.stop.is_set():
            try:
                run_id = self.run_once()
            except Exception as exc:  # the worker outlives any one failure
                self._note(exc, "claiming a run")
                self.stop.wait(backoff.next_delay())
                continue
            backoff.reset()
            if run_id is None:
                self.stop.wait(self.poll_seconds)

    def run_once(self) -> str | None:
        """Claim and execute one run; returns its id, or None if the queue was empty."""
        with self.session_factory() as session:
            run = claim_run(
                session, worker_id=self.worker_id, lease_seconds=self.settings.lease_seconds
            )
            session.commit()
            run_id = run.id if run is not None else None
        self.problem = None  # the database answered
        if run_id is None:
            return None
        log.info("worker %s claimed run %s", self.worker_id, run_id)
        self.execute(run_id)
        return run_id

    def execute(self, run_id: str) -> None:
        """Execute a run this worker has claimed, then give its lease back.

        A run that raises is failed with the error, unless the error was the
        database going away: then the run keeps its status and, once the
        database answers, is released to be claimed and resumed.
        """
        keeper = LeaseKeeper(
            self.session_factory,
            run_id=run_id,
            worker_id=self.worker_id,
            lease_seconds=self.settings.lease_seconds,
        )
        failure = self._execute_leased(keeper, run_id)
        if keeper.lost.is_set():
            return  # another worker has the run now
        if failure is not None:
            self._with_database(lambda: self._fail(run_id, failure))
        self._with_database(lambda: self._release(run_id))

    def _execute_leased(self, keeper: LeaseKeeper, run_id: str) -> str | None:
        """Run the loop under the lease; the error that should fail the run, if any.

        The exception is not kept: its traceback holds the executor's frames, and
        dropping it closes them, which stops the sandboxes still training.
        """
        try:
            with keeper:
                stop_watch = threading.Thread(
                    target=self._forward_stop, args=(keeper,), daemon=True
                )
                stop_watch.start()
                ctx = make_context(
                    settings=self.settings,
                    store=RunStore(self.session_factory),
                    progress=self.progress,
                    should_cancel=keeper.should_stop,
                    executor=self.executor,
                )
                ctx.owns_run = lambda: not keeper.lost.is_set()
                status = execute_run(ctx, run_id)
                log.info("run %s ended: %s", run_id, status)
        except Exception as exc:
            if database_error(exc) is not None:
                self._note(
                    exc, f"run {run_id} was interrupted (it resumes once the database answers)"
                )
                return None
            log.exception("run %s failed", run_id)
            return "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return None

    def _with_database(self, action: Callable[[], object]) -> None:
        """Do ``action``, asking again with backoff while the database is unreachable.

        Gives up when the worker is stopped: the run's lease then runs out and
        another worker resumes it.
        """
        backoff = Backoff()
        while True:
            try:
                action()
            except Exception as exc:
                if database_error(exc) is None:
                    raise
                self._note(exc, "waiting for the database")
                if self.stop.wait(backoff.next_delay()):
                    return
            else:
                self.problem = None
                return

    def _note(self, exc: Exception, doing: str) -> None:
        """Log a failure the worker carries on after, and keep it as ``problem``."""
        error = database_error(exc)
        if error is not None:
            self.problem = describe_database_error(error)
            log.warning("worker %s: %s: %s", self.worker_id, doing, self.problem)
        else:
            self.problem = f"{doing} failed: {type(exc).__name__}"
            log.exception("worker %s: %s failed", self.worker_id, doing)

    def _forward_stop(self, keeper: LeaseKeeper) -> None:
        while keeper.active:
            if self.stop.wait(0.5):
                keeper.local_stop.set()
                return

    def _fail(self, run_id: str, error: str) -> None:
        with self.session_factory() as session:
            set_run_status(
                session,
                run_id=run_id,
                status="failed",
                error=f"the run stopped on an internal error: {error}",
            )
            session.commit()

    def _release(self, run_id: str) -> None:
        with self.session_factory() as session:
            release_lease(session, run_id=run_id, worker_id=self.worker_id)
            session.commit()
