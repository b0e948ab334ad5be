"""GET latency of the run and events endpoints under 50 concurrent clients, with the
service idle and while two candidates train, printed side by side as ratios.

    .venv/bin/python bench/api_load.py [--clients 50] [--requests 1000]

Starts a real ``rewardforge serve`` (one embedded worker, two training slots) on a
loopback port with a throwaway SQLite database; only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.processes import cli_env, free_port, start_cli, wait_for_http  # noqa: E402

RUN = {
    "env_id": "HalfCheetah-v5",
    "task": "run forward",
    "iterations": 1,
    "samples": 2,
    "timesteps": 200_000,
    "final_seeds": 0,
    "llm": {"offline": True},
    "options": {"halving": False, "video": False},
}


async def _latencies(base: str, path: str, *, clients: int, total: int) -> list[float]:
    """Time ``total`` GETs of ``path`` spread over ``clients`` concurrent clients (seconds).
    For the event stream the time is to the first event."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(total):
        queue.put_nowait(i)
    found: list[float] = []
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:

        async def worker() -> None:
            while not queue.empty():
                queue.get_nowait()
                start = time.perf_counter()
                if path.endswith("/events"):
                    async with client.stream("GET", path, headers={"Last-Event-ID": "0"}) as r:
                        async for line in r.aiter_lines():
                            if line.startswith("data:"):
                                break
                else:
                    (await client.get(path)).raise_for_status()
                found.append(time.perf_counter() - start)

        await asyncio.gather(*(worker() for _ in range(clients)))
    return found


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] * 1000


def _measure(base: str, run_id: str, clients: int, total: int) -> dict[str, tuple[float, float]]:
    figures = {}
    for name, path in (("run", f"/api/runs/{run_id}"), ("events", f"/api/runs/{run_id}/events")):
        lat = asyncio.run(_latencies(base, path, clients=clients, total=total))
        figures[name] = (_pct(lat, 50), _pct(lat, 99))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = cli_env(Path(tmp) / "data", workers="2")
        port = free_port()
        server = start_cli(["serve", "--port", str(port), "--workers", "1"], env, Path(tmp) / "log")
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for_http(f"{base}/api/health", process=server)
            # idle: a run created and cancelled at once, so nothing trains
            idle_id = httpx.post(f"{base}/api/runs", json=RUN).json()["id"]
            httpx.post(f"{base}/api/runs/{idle_id}/cancel")
            time.sleep(5)  # a worker that had claimed it stops its sandboxes
            idle = _measure(base, idle_id, args.clients, args.requests)
            busy_id = httpx.post(f"{base}/api/runs", json=RUN).json()["id"]
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                listed = httpx.get(
                    f"{base}/api/runs/{busy_id}/candidates", params={"status": "training"}
                ).json()
                if listed["total"] >= 2:
                    break
                time.sleep(0.5)
            busy = _measure(base, busy_id, args.clients, args.requests)
            httpx.post(f"{base}/api/runs/{busy_id}/cancel")
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"{args.clients} clients, {args.requests} GETs per endpoint, cores: {os.cpu_count()}")
    print(
        f"{'endpoint':8} {'idle p50':>9} {'idle p99':>9} {'busy p50':>9} {'busy p99':>9} "
        f"{'p50 ratio':>9} {'p99 ratio':>9}"
    )
    for name in ("run", "events"):
        (i50, i99), (b50, b99) = idle[name], busy[name]
        print(
            f"{name:8} {i50:8.1f}ms {i99:8.1f}ms {b50:8.1f}ms {b99:8.1f}ms "
            f"{b50 / i50:9.2f} {b99 / i99:9.2f}"
        )


if __name__ == "__main__":
    main()
