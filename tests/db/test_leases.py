"""Run leases: one worker per run, expired leases taken over, renewals that notice."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

from sqlalchemy.orm import Session, sessionmaker

from app.db.events import events_after
from app.db.leases import claim_run, release_lease, renew_lease
from app.db.runs import get_run, set_run_status
from tests.db.factories import new_run


def _claim(factory: sessionmaker[Session], worker: str, lease_seconds: float = 30) -> str | None:
    with factory.begin() as session:
        run = claim_run(session, worker_id=worker, lease_seconds=lease_seconds)
        return run.id if run is not None else None


def _queue(factory: sessionmaker[Session], count: int) -> list[str]:
    ids = []
    for _ in range(count):
        with factory.begin() as session:
            ids.append(new_run(session).id)
    return ids


def test_claim_takes_the_oldest_run_and_starts_it(session_factory: sessionmaker[Session]) -> None:
    ids = _queue(session_factory, 3)
    assert _claim(session_factory, "w1") == ids[0]
    assert _claim(session_factory, "w2") == ids[1]
    with session_factory() as session:
        run = get_run(session, run_id=ids[0])
        assert run is not None
        assert (run.status, run.lease_owner) == ("running", "w1")
        assert run.lease_expires_at is not None and run.lease_expires_at.tzinfo is not None
        kinds = [e.kind for e in events_after(session, run_id=ids[0])]
        assert kinds == ["run.created", "run.claimed", "run.status"]


def test_live_lease_and_finished_runs_are_not_claimable(
    session_factory: sessionmaker[Session],
) -> None:
    held, finished = _queue(session_factory, 2)
    with session_factory.begin() as session:
        set_run_status(session, run_id=finished, status="succeeded")
    assert _claim(session_factory, "w1") == held
    assert _claim(session_factory, "w2") is None


def test_threads_claiming_at_once_never_share_a_run(session_factory: sessionmaker[Session]) -> None:
    ids = _queue(session_factory, 12)
    barrier = threading.Barrier(4)
    claimed: dict[str, list[str]] = {}

    def worker(name: str) -> None:
        mine = claimed.setdefault(name, [])
        barrier.wait(10)
        while (run_id := _claim(session_factory, name)) is not None:
            mine.append(run_id)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    everything = [run_id for runs in claimed.values() for run_id in runs]
    assert sorted(everything) == sorted(ids)  # each run exactly once
    with session_factory() as session:
        for name, runs in claimed.items():
            assert all(get_run(session, run_id=r).lease_owner == name for r in runs)  # type: ignore[union-attr]


CLAIMER = """
import json, sys
from app.db.leases import claim_run
from app.db.session import make_engine, make_session_factory
factory = make_session_factory(make_engine(sys.argv[1]))
print("ready", flush=True)
sys.stdin.readline()
claimed = []
while True:
    with factory.begin() as session:
        run = claim_run(session, worker_id=sys.argv[2], lease_seconds=30)
        if run is None:
            break
        claimed.append(run.id)
print(json.dumps(claimed), flush=True)
"""


def test_processes_claiming_at_once_never_share_a_run(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    ids = _queue(session_factory, 12)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CLAIMER, db_url, f"p{i}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(3)
    ]
    for proc in procs:  # all started and connected before any claims
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    results = [json.loads(proc.communicate(timeout=120)[0]) for proc in procs]
    assert sorted(run_id for claimed in results for run_id in claimed) == sorted(ids)


def test_expired_lease_is_taken_over_and_old_owner_cannot_renew(
    session_factory: sessionmaker[Session],
) -> None:
    (run_id,) = _queue(session_factory, 1)
    assert _claim(session_factory, "dead", lease_seconds=0.2) == run_id
    assert _claim(session_factory, "alive") is None  # still live
    time.sleep(0.3)
    assert _claim(session_factory, "alive") == run_id
    with session_factory.begin() as session:
        assert renew_lease(session, run_id=run_id, worker_id="dead", lease_seconds=30) is False
        assert release_lease(session, run_id=run_id, worker_id="dead") is False
        assert renew_lease(session, run_id=run_id, worker_id="alive", lease_seconds=30) is True
        run = get_run(session, run_id=run_id)
        assert run is not None and (run.status, run.lease_owner) == ("running", "alive")
        takeover = events_after(session, run_id=run_id)[-1]
        assert takeover.kind == "run.claimed"
        assert takeover.data == {
            "worker_id": "alive",
            "status": "running",
            "previous_owner": "dead",
        }


def test_lapsed_lease_nobody_took_can_still_be_renewed(
    session_factory: sessionmaker[Session],
) -> None:
    (run_id,) = _queue(session_factory, 1)
    _claim(session_factory, "slow", lease_seconds=0.1)
    time.sleep(0.2)
    with session_factory.begin() as session:
        assert renew_lease(session, run_id=run_id, worker_id="slow", lease_seconds=30) is True
    assert _claim(session_factory, "other") is None


def test_released_run_is_claimable_at_once_and_keeps_its_status(
    session_factory: sessionmaker[Session],
) -> None:
    (run_id,) = _queue(session_factory, 1)
    _claim(session_factory, "leaving")
    with session_factory.begin() as session:
        set_run_status(session, run_id=run_id, status="finalizing")
        assert release_lease(session, run_id=run_id, worker_id="leaving") is True
    assert _claim(session_factory, "next") == run_id
    with session_factory() as session:
        run = get_run(session, run_id=run_id)
        assert run is not None and (run.status, run.lease_owner) == ("finalizing", "next")


def test_finishing_a_run_drops_its_lease(session_factory: sessionmaker[Session]) -> None:
    (run_id,) = _queue(session_factory, 1)
    _claim(session_factory, "w")
    with session_factory.begin() as session:
        run = set_run_status(session, run_id=run_id, status="succeeded")
        assert (run.lease_owner, run.lease_expires_at) == (None, None)
