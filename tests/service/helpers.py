"""Helpers for service tests: a real server process, SSE reading, run requests."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.processes import free_port, start_cli, wait_for_http

TINY_RUN: dict[str, Any] = {
    "env_id": "MountainCarContinuous-v0",
    "task": "drive up the right hill and reach the flag",
    "iterations": 2,
    "samples": 2,
    "timesteps": 2000,
    "final_seeds": 0,
    # no films: the dashboard tests show them; here they would only cost minutes
    "options": {"n_envs": 2, "eval_episodes": 1, "video": False},
}
QUEUED_RUN: dict[str, Any] = {  # a run to read and follow; the tests start no worker
    "env_id": "CartPole-v1",
    "task": "balance the pole",
    "iterations": 1,
    "samples": 1,
    "timesteps": 1000,
    "llm": {"offline": True},
}


@contextmanager
def serving(env: dict[str, str], log: Path, *, workers: int = 1) -> Iterator[str]:
    """``rewardforge serve`` on a free loopback port; yields its base URL."""
    port = free_port()
    process = start_cli(["serve", "--port", str(port), "--workers", str(workers)], env, log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base}/api/health", timeout=90, process=process)
        yield base
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def read_events(
    base: str,
    run_id: str,
    *,
    last_id: int | None = None,
    until: str | None = None,
    timeout: float = 400,
) -> list[dict[str, Any]]:
    """Follow the run's SSE stream until an event of kind ``until`` (or the stream's end)."""
    headers = {"Last-Event-ID": str(last_id)} if last_id is not None else {}
    events: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    deadline = time.monotonic() + timeout
    with httpx.stream(
        "GET",
        f"{base}/api/runs/{run_id}/events",
        headers=headers,
        timeout=httpx.Timeout(30, read=60),
    ) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {until or 'end of stream'} within {timeout} s")
            if line.startswith("id:"):
                current["id"] = int(line[3:].strip())
            elif line.startswith("event:"):
                current["event"] = line[6:].strip()
            elif line.startswith("data:"):
                current["data"] = json.loads(line[5:].strip())
            elif line == "" and current:
                events.append(current)
                if until is not None and current.get("event") == until:
                    return events
                current = {}
    return events
