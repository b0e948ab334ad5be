"""Durable work: a worker leases a run, renews the lease while it works, releases it.

A run is claimable when it is queued, or when it is in a leased status
(running, waiting_feedback, finalizing) and its lease is gone or expired: the
worker that held it died or stopped. Each claim is a conditional UPDATE whose
WHERE repeats the claimability test, so of two workers racing for one run
exactly one sees a changed row. On Postgres the candidate rows are first
selected ``FOR UPDATE SKIP LOCKED``, so racing workers pick different runs
instead of queueing behind each other; SQLite serialises writers, and the
conditional UPDATE alone decides there.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session

from app.db.dml import affected_rows
from app.db.events import add_event
from app.db.models import Run, utcnow
from app.db.states import LEASED_RUN_STATUSES

# How many claimable runs one SQLite claim tries before reporting none. Postgres
# locks what it selects, so it takes one row: locking more would hide them all
# from the other workers until this transaction ends.
SQLITE_CLAIM_BATCH = 8


def _claimable(now: datetime) -> ColumnElement[bool]:
    lease_gone = or_(Run.lease_expires_at.is_(None), Run.lease_expires_at < now)
    return or_(Run.status == "queued", and_(Run.status.in_(LEASED_RUN_STATUSES), lease_gone))


def _try_claim(session: Session, *, run_id: str, worker_id: str, lease_seconds: float) -> bool:
    now = utcnow()
    expires = now + timedelta(seconds=lease_seconds)
    statement = (
        update(Run)
        .where(Run.id == run_id, _claimable(now))
        .values(lease_owner=worker_id, lease_expires_at=expires)
    )
    return affected_rows(session, statement) == 1


def claim_run(session: Session, *, worker_id: str, lease_seconds: float) -> Run | None:
    """Lease the oldest claimable run to ``worker_id``; None when there is none.

    A queued run becomes running. A taken-over run keeps its status (the
    worker resumes it) and a ``run.claimed`` event names the previous owner.
    The caller commits promptly: on Postgres the row stays locked until then.
    """
    if lease_seconds <= 0:
        raise ValueError("lease_seconds must be positive")
    batch = 1 if session.get_bind().dialect.name == "postgresql" else SQLITE_CLAIM_BATCH
    query = (
        select(Run.id, Run.status, Run.lease_owner)
        .where(_claimable(utcnow()))
        .order_by(Run.created_at, Run.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    for run_id, status, previous_owner in session.execute(query).all():
        if not _try_claim(session, run_id=run_id, worker_id=worker_id, lease_seconds=lease_seconds):
            continue  # another worker got it between our SELECT and UPDATE
        run = session.get(Run, run_id, populate_existing=True)
        assert run is not None  # we hold its lease, nobody could delete it
        add_event(
            session,
            run_id=run_id,
            kind="run.claimed",
            data={"worker_id": worker_id, "status": status, "previous_owner": previous_owner},
        )
        if status == "queued":
            run.status = "running"
            session.flush()
            add_event(
                session,
                run_id=run_id,
                kind="run.status",
                data={"status": "running", "previous": "queued", "error": None},
            )
        return run
    return None


def renew_lease(session: Session, *, run_id: str, worker_id: str, lease_seconds: float) -> bool:
    """Extend ``worker_id``'s lease; False when another worker has taken the run over.

    A lease that ran out but that nobody took is still this worker's to renew.
    """
    expires = utcnow() + timedelta(seconds=lease_seconds)
    statement = (
        update(Run)
        .where(Run.id == run_id, Run.lease_owner == worker_id)
        # updated_at stays: a heartbeat is not a change anyone should see.
        .values(lease_expires_at=expires, updated_at=Run.updated_at)
    )
    return affected_rows(session, statement) == 1


def release_lease(session: Session, *, run_id: str, worker_id: str) -> bool:
    """Give the run's lease back so any worker may claim it at once.

    False when ``worker_id`` no longer held it. A run released unfinished is
    claimable again right away (a worker shutting down hands its run on).
    """
    statement = (
        update(Run)
        .where(Run.id == run_id, Run.lease_owner == worker_id)
        .values(lease_owner=None, lease_expires_at=None)
    )
    if affected_rows(session, statement) != 1:
        return False
    add_event(session, run_id=run_id, kind="run.released", data={"worker_id": worker_id})
    return True
