"""Many open event streams and a crowd of GET clients on one real server and Postgres:
the streams hold no database connection while they wait, and nobody gets a 5xx.

A small pool (4 + 2 connections) makes the point: before streams shared one
poller per run, each stream read the database twice a second on its own."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from app.db.session import upgrade_database
from tests.postgres import create_database, drop_database, plain_url
from tests.processes import cli_env
from tests.service.helpers import QUEUED_RUN, serving

STREAMS = 60
CLIENTS = 30
HAMMER_SECONDS = 6.0
QUIET_SECONDS = 4.0
STATS_DELAY_SECONDS = 11.0

pytestmark = pytest.mark.postgres


@pytest.fixture
def database(postgres_url: str) -> Iterator[str]:
    """A migrated database of this test's own (the server keeps connections open)."""
    name = f"rf_streams_{uuid.uuid4().hex[:8]}"
    create_database(postgres_url, name)
    url = postgres_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade_database(url)
        yield url
    finally:
        drop_database(postgres_url, name)


def _transactions(url: str) -> int:
    """Transactions finished in this database so far (Postgres flushes each backend's
    counts about once a second while it works)."""
    with psycopg.connect(plain_url(url), autocommit=True) as conn:
        row = conn.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database "
            "WHERE datname = current_database()"
        ).fetchone()
    assert row is not None
    return int(row[0])


def _busy_connections(url: str) -> int:
    """Connections to this database that are running a query or sit in a transaction."""
    with psycopg.connect(plain_url(url), autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND state IN ('active', 'idle in transaction')"
        ).fetchone()
    assert row is not None
    return int(row[0])


async def _stream(
    client: httpx.AsyncClient,
    run_id: str,
    opened: asyncio.Event,
    counter: Counter[str],
    kinds: list[str],
) -> None:
    async with client.stream("GET", f"/api/runs/{run_id}/events") as response:
        counter[f"stream {response.status_code}"] += 1
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                kinds.append(line[6:].strip())
                counter["stream events"] += 1
                if counter["stream events"] >= STREAMS:
                    opened.set()


async def _hammer(client: httpx.AsyncClient, run_id: str, counter: Counter[str]) -> None:
    deadline = time.monotonic() + HAMMER_SECONDS
    while time.monotonic() < deadline:
        for path in ("/api/runs", f"/api/runs/{run_id}"):
            response = await client.get(path)
            counter[f"get {response.status_code // 100}xx"] += 1


async def _load(base: str, url: str, run_id: str) -> dict[str, object]:
    counter: Counter[str] = Counter()
    kinds: list[str] = []
    opened = asyncio.Event()
    limits = httpx.Limits(max_connections=STREAMS + CLIENTS + 10)
    timeout = httpx.Timeout(60)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=timeout) as client:
        streams = [
            asyncio.create_task(_stream(client, run_id, opened, counter, kinds))
            for _ in range(STREAMS)
        ]
        await asyncio.wait_for(opened.wait(), timeout=60)  # every stream has its first event
        # A backend that goes idle reports its counts up to 10 s later (PGSTAT_IDLE_INTERVAL):
        # wait until the openings' reads are all counted.
        await asyncio.sleep(STATS_DELAY_SECONDS)
        before = await asyncio.to_thread(_transactions, url)
        await asyncio.sleep(QUIET_SECONDS)
        quiet = await asyncio.to_thread(_transactions, url) - before
        busy = []
        for _ in range(10):
            busy.append(await asyncio.to_thread(_busy_connections, url))
            await asyncio.sleep(0.2)
        await asyncio.gather(*(_hammer(client, run_id, counter) for _ in range(CLIENTS)))
        cancelled = await client.post(f"/api/runs/{run_id}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        await asyncio.wait_for(asyncio.gather(*streams), timeout=60)  # each ends with the run
    return {"counter": counter, "kinds": kinds, "quiet": quiet, "busy": busy}


def test_open_streams_hold_no_connections_and_gets_never_fail(
    database: str, tmp_path: Path
) -> None:
    env = cli_env(tmp_path / "data", database_url=database, db_pool_size="4", db_max_overflow="2")
    with serving(env, tmp_path / "serve.log", workers=0) as base:
        created = httpx.post(f"{base}/api/runs", json=QUEUED_RUN)
        assert created.status_code == 201, created.text
        found = asyncio.run(_load(base, database, created.json()["id"]))
    counter = found["counter"]
    assert isinstance(counter, Counter)
    assert counter["stream 200"] == STREAMS
    assert counter["get 2xx"] > CLIENTS and counter["get 5xx"] == 0, counter
    # 60 waiting streams cost the database what one does: about two reads a second,
    # not 60 x 2.
    quiet = found["quiet"]
    assert isinstance(quiet, int)
    assert quiet < 60, f"{quiet} transactions in {QUIET_SECONDS} s with every stream idle"
    busy = found["busy"]
    assert isinstance(busy, list) and max(busy) <= 2, busy
    kinds = found["kinds"]
    assert isinstance(kinds, list) and kinds.count("run.status") == STREAMS
