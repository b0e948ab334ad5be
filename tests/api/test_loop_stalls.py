"""The server's event-loop watchdog names what blocked the loop, and for how long."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.api.loop_stalls import LoopStallMonitor
from app.config import Settings


def block_the_loop_for(seconds: float) -> None:
    time.sleep(seconds)  # on the loop's thread: nothing else is served meanwhile


def run_loop(main: Callable[[], Coroutine[Any, Any, LoopStallMonitor]]) -> LoopStallMonitor:
    """``main`` on a loop of its own thread (this one may hold another test's loop)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(main())).result()


def test_a_blocked_loop_is_logged_with_the_blocking_call(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> LoopStallMonitor:
        async with LoopStallMonitor(0.2).running() as monitor:
            await asyncio.sleep(0.1)
            block_the_loop_for(0.8)
            await asyncio.sleep(0.2)  # the loop turns again: the stall's length is known
        return monitor

    with caplog.at_level(logging.WARNING, logger="app.api.loop_stalls"):
        run_loop(main)
    lengths = [
        int(found.group(1)) / 1000
        for record in caplog.records
        if (found := re.fullmatch(r"event loop was blocked for (\d+) ms", record.getMessage()))
    ]
    assert len(lengths) == 1
    assert 0.75 <= lengths[0] <= 2.0
    blocked = [r.getMessage() for r in caplog.records if "so far" in r.getMessage()]
    assert len(blocked) == 1
    assert "--- event loop" in blocked[0] and "block_the_loop_for" in blocked[0]


def test_a_loop_that_turns_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> LoopStallMonitor:
        async with LoopStallMonitor(2.0).running() as monitor:
            for _ in range(20):
                await asyncio.sleep(0.01)
        return monitor

    with caplog.at_level(logging.WARNING, logger="app.api.loop_stalls"):
        run_loop(main)
    assert not caplog.records


def test_the_server_watches_its_loop_unless_turned_off(tmp_path) -> None:
    from app.server import create_app

    url = f"sqlite:///{tmp_path / 'rf.db'}"
    on = create_app(Settings(database_url=url, data_dir=tmp_path))
    off = create_app(Settings(database_url=url, data_dir=tmp_path, loop_stall_warning_ms=0))
    with TestClient(on) as client:
        client.get("/api/health")
        assert on.state.loop_stalls.threshold_s == 0.5
    with TestClient(off) as client:
        client.get("/api/health")
        assert not hasattr(off.state, "loop_stalls")
