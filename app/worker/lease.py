"""A lease held while a run executes: renewed in the background, so another
worker can take the run over only if this one stops renewing (it died)."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from sqlalchemy import or_, update
from sqlalchemy.orm import Session, sessionmaker

from app.db.models import Run, utcnow
from app.db.repository import renew_lease
from app.worker.retry import database_error, describe_database_error

log = logging.getLogger(__name__)


def acquire_run(session: Session, *, run_id: str, worker_id: str, lease_seconds: float) -> bool:
    """Take the lease of one named run, if nobody else holds a live lease on it."""
    now = utcnow()
    taken = session.execute(
        update(Run)
        .where(
            Run.id == run_id,
            or_(
                Run.lease_owner.is_(None), Run.lease_owner == worker_id, Run.lease_expires_at < now
            ),
        )
        .values(lease_owner=worker_id, lease_expires_at=now + timedelta(seconds=lease_seconds))
    )
    return taken.rowcount == 1  # type: ignore[attr-defined]


class LeaseKeeper:
    """Renews ``run_id``'s lease every third of its length; stops on loss or cancel.

    ``should_stop()`` turns true when the lease was lost (another worker took the
    run) or someone asked to cancel the run: the loop then stops the sandboxes.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        run_id: str,
        worker_id: str,
        lease_seconds: float,
    ):
        self.session_factory = session_factory
        self.run_id = run_id
        self.worker_id = worker_id
        self.lease_seconds = lease_seconds
        self.lost = threading.Event()
        self.cancelled = threading.Event()
        self.local_stop = threading.Event()  # this process wants to stop (Ctrl-C, SIGTERM)
        self._done = threading.Event()
        self._thread = threading.Thread(
            target=self._renew_forever, daemon=True, name=f"lease-{run_id}"
        )

    def __enter__(self) -> LeaseKeeper:
        self._renew_once()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(timeout=5)

    @property
    def active(self) -> bool:
        return not self._done.is_set()

    def should_stop(self) -> bool:
        return self.lost.is_set() or self.cancelled.is_set() or self.local_stop.is_set()

    def _renew_forever(self) -> None:
        while not self._done.wait(self.lease_seconds / 3):
            try:
                self._renew_once()
            except Exception as exc:  # a database hiccup: try again next round
                error = database_error(exc)
                if error is None:
                    log.exception("renewing the lease of run %s failed", self.run_id)
                else:
                    log.warning(
                        "renewing the lease of run %s failed: %s",
                        self.run_id,
                        describe_database_error(error),
                    )

    def _renew_once(self) -> None:
        with self.session_factory() as session:
            held = renew_lease(
                session,
                run_id=self.run_id,
                worker_id=self.worker_id,
                lease_seconds=self.lease_seconds,
            )
            run = session.get(Run, self.run_id)
            session.commit()
        if not held:
            log.warning("lost the lease of run %s", self.run_id)
            self.lost.set()
        if run is None or run.cancel_requested:
            self.cancelled.set()
