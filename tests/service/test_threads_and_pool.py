"""More requests than API threads and pool connections on a real server: every one is
answered. A request's session goes back to the pool without waiting for a route
thread, so routes that wait for a connection never block the requests holding one."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import httpx

from tests.processes import cli_env
from tests.service.helpers import QUEUED_RUN, serving

CLIENTS = 24
REQUESTS = 10


async def _crowd(base: str, run_id: str) -> Counter[int]:
    codes: Counter[int] = Counter()
    limits = httpx.Limits(max_connections=CLIENTS + 5)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:

        async def one() -> None:
            for path in [f"/api/runs/{run_id}", "/api/runs"] * (REQUESTS // 2):
                codes[(await client.get(path)).status_code] += 1

        await asyncio.gather(*(one() for _ in range(CLIENTS)))
    return codes


def test_a_crowd_beyond_the_threads_and_the_pool_gets_no_503(tmp_path: Path) -> None:
    env = cli_env(
        tmp_path / "data",
        api_threads="2",
        db_pool_size="1",
        db_max_overflow="0",
        db_pool_timeout_s="5",
    )
    with serving(env, tmp_path / "serve.log", workers=0) as base:
        created = httpx.post(f"{base}/api/runs", json=QUEUED_RUN)
        assert created.status_code == 201, created.text
        codes = asyncio.run(_crowd(base, created.json()["id"]))
    assert codes == Counter({200: CLIENTS * REQUESTS}), (
        codes,
        (tmp_path / "serve.log").read_text()[-2000:],
    )
