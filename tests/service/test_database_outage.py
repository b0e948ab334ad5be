"""A Postgres outage stops nothing for good: the server's and a standalone
worker keep asking, /api/ready says not ready meanwhile, and a run the outage
interrupted resumes (it is not failed) once the database is back.

The tests own their Postgres cluster, so stopping it disturbs no other test.
"""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.db.models import Event, Run
from app.db.repository import create_run
from app.db.session import make_engine, make_session_factory, upgrade_database
from tests.postgres import SERVER_USER, ThrowawayCluster, create_database, new_cluster
from tests.processes import cli_env, start_cli, wait_until
from tests.service.helpers import TINY_RUN, serving, stop

pytestmark = pytest.mark.postgres

ONE_CANDIDATE = {
    **TINY_RUN,
    "iterations": 1,
    "samples": 1,
    "timesteps": 1000,
    "options": {**TINY_RUN["options"], "video": False},
}


@pytest.fixture(scope="module")
def cluster() -> Iterator[ThrowawayCluster]:
    """A Postgres cluster of this module's own, which its tests stop and start."""
    owned = new_cluster()
    owned.start()
    try:
        yield owned
    finally:
        owned.stop()


@pytest.fixture
def url(cluster: ThrowawayCluster) -> Iterator[str]:
    """A migrated database of the test's own; the server runs again after the test."""
    name = f"rf_outage_{uuid.uuid4().hex[:8]}"
    server = f"postgresql+psycopg://{SERVER_USER}@127.0.0.1:{cluster.port}"
    create_database(f"{server}/postgres", name)
    upgrade_database(f"{server}/{name}")
    yield f"{server}/{name}"
    if not (cluster.data / "postmaster.pid").exists():
        cluster.start_server()


def _ready(base: str) -> int:
    return httpx.get(f"{base}/api/ready", timeout=10).status_code


def test_serve_rides_out_an_outage_and_resumes_the_interrupted_run(
    cluster: ThrowawayCluster, url: str, tmp_path: Path
) -> None:
    log = tmp_path / "serve.log"
    env = cli_env(tmp_path / "data", database_url=url, lease_seconds="5", workers="1")
    with serving(env, log) as base:
        wait_until(lambda: _ready(base) == 200, 30, "ready")

        # Idle: the worker keeps asking, ready says 503 until the database is back.
        cluster.stop_server()
        wait_until(lambda: "OperationalError" in log.read_text(), 30, "the worker to notice")
        time.sleep(1)  # a few retries
        assert _ready(base) == 503
        cluster.start_server()
        wait_until(lambda: _ready(base) == 200, 30, "ready again")

        # Mid-run: the result of the training candidate cannot be stored.
        created = httpx.post(f"{base}/api/runs", json=ONE_CANDIDATE, timeout=30)
        run_id = created.raise_for_status().json()["id"]
        candidates = f"{base}/api/runs/{run_id}/candidates"
        wait_until(
            lambda: any(c["status"] == "training" for c in httpx.get(candidates).json()["items"]),
            120,
            "a candidate to train",
        )
        cluster.stop_server()
        wait_until(
            lambda: f"run {run_id} was interrupted" in log.read_text(), 120, "the interruption"
        )
        body = httpx.get(f"{base}/api/ready", timeout=10).json()
        assert body["status"] == "not_ready"
        cluster.start_server()

        run = wait_until(lambda: _finished(base, run_id), 240, "the resumed run to end")
        rows = httpx.get(candidates).json()["items"]
        errors = [(r["status"], r["error_kind"]) for r in rows]
        assert run["status"] == "succeeded", f"{run['error']}; candidates: {errors}"
        ready = httpx.get(f"{base}/api/ready", timeout=10)
        assert ready.status_code == 200 and ready.json()["workers"] == {"embedded-0": "ok"}
    factory = make_session_factory(make_engine(url))
    with factory() as session:
        events = list(session.scalars(select(Event).where(Event.run_id == run_id)))
    kinds = [event.kind for event in events]
    assert kinds.count("run.claimed") == 2  # claimed, handed back, claimed again
    assert "run.released" in kinds
    statuses = [event.data["status"] for event in events if event.kind == "run.status"]
    assert "failed" not in statuses


def _finished(base: str, run_id: str) -> dict[str, Any] | None:
    try:
        run = httpx.get(f"{base}/api/runs/{run_id}", timeout=10).json()
    except httpx.HTTPError:
        return None
    return run if run.get("status") in ("succeeded", "failed", "cancelled") else None


def test_standalone_worker_survives_an_outage(
    cluster: ThrowawayCluster, url: str, tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    env = cli_env(tmp_path / "data", database_url=url, lease_seconds="5", workers="1")
    worker = start_cli(["worker"], env, log)
    try:
        wait_until(lambda: "waiting for runs" in log.read_text(), 60, "the worker to start")
        cluster.stop_server()
        wait_until(lambda: "OperationalError" in log.read_text(), 30, "the worker to notice")
        time.sleep(2)  # several retries
        assert worker.poll() is None, log.read_text()[-3000:]
        cluster.start_server()

        factory = make_session_factory(make_engine(url))
        with factory.begin() as session:
            run_id = create_run(
                session,
                env_id="MountainCarContinuous-v0",
                task="reach the flag",
                fitness_metric="reach_flag",
                iterations=1,
                samples=1,
                timesteps=1000,
                final_seeds=0,
                llm={"offline": True},
            ).id

        def claimed() -> bool:
            with factory() as session:
                run = session.get(Run, run_id)
                return run is not None and run.lease_owner is not None

        wait_until(claimed, 30, "the worker to claim the new run")
        assert worker.poll() is None
    finally:
        worker.send_signal(signal.SIGTERM)
        stop(worker)
