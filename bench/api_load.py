"""p99 latency of GET run and of a stream's first event under load, with the service
idle and while two candidates train, on SQLite and on Postgres, side by side.

    .venv/bin/python bench/api_load.py [--clients 50] [--streams 200] [--requests 1000]
        [--backends sqlite,postgres] [--postgres-url URL] [--sandbox-nice N]
        [--sandbox-class idle|normal]

Each backend gets a real ``rewardforge serve`` on a loopback port and a
throwaway database (Postgres: a throwaway cluster from tests/postgres.py unless
--postgres-url names a server that lets the role CREATE DATABASE). While
``--streams`` event streams stay open on one run (held by a process of their
own), ``--clients`` clients GET the run ``--requests`` times, then open and close
streams (Last-Event-ID: 0), timing the first event; each client's first request
of a phase is a warm-up, not timed. Idle: the run is queued and nothing trains.
Busy: a ``rewardforge worker`` (two training slots, sandboxes at
``--sandbox-nice``, default the setting's, 19, and in the ``--sandbox-class``
scheduling class, default the setting's, idle) claims it and two HalfCheetah
candidates train. Beside the latencies it prints the timing client's own loop
lag and the server's event-loop stalls over 200 ms (its log names their cause).
Only 127.0.0.1 is contacted. Target: busy p99 at most 1.5x idle.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from app.config import Settings  # noqa: E402
from tests.postgres import ThrowawayCluster, create_database, find_server_bin  # noqa: E402
from tests.processes import cli_env, free_port, start_cli, wait_for_http  # noqa: E402

RUN = {
    "env_id": "HalfCheetah-v5",
    "task": "run forward",
    "iterations": 1,
    "samples": 2,
    "timesteps": 500_000,
    "final_seeds": 0,
    "llm": {"offline": True},
    "options": {"halving": False, "video": False},
}
TARGET = 1.5


async def _hold_stream(client: httpx.AsyncClient, path: str, opened: list[int]) -> None:
    """Keep one event stream open until cancelled."""
    async with client.stream("GET", path) as response:
        opened.append(response.status_code)
        async for _ in response.aiter_lines():
            pass


async def _first_event(client: httpx.AsyncClient, path: str) -> None:
    async with client.stream("GET", path, headers={"Last-Event-ID": "0"}) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if line.startswith("data:"):
                return


async def _timed(client: httpx.AsyncClient, path: str, *, clients: int, total: int) -> list[float]:
    """Seconds each of ``total`` requests took, ``clients`` at a time, after each client's
    first request (the warm-up: all clients start at once, and that burst's queue would
    otherwise be the p99 of every phase, idle or busy)."""
    left = iter(range(total))
    found: list[float] = []

    async def request() -> None:
        if path.endswith("/events"):
            await _first_event(client, path)
        else:
            (await client.get(path)).raise_for_status()

    async def one_client() -> None:
        await request()
        for _ in left:
            start = time.perf_counter()
            await request()
            found.append(time.perf_counter() - start)

    await asyncio.gather(*(one_client() for _ in range(clients)))
    return found


async def _lag(found: list[float]) -> None:
    """How late this client's own loop wakes from 10 ms sleeps (its stalls count as the
    server's in the timings)."""
    loop = asyncio.get_running_loop()
    while True:
        start = loop.time()
        await asyncio.sleep(0.01)
        found.append(loop.time() - start - 0.01)


async def _hold_streams(base: str, path: str, count: int) -> None:
    """Open ``count`` event streams and keep them open; say "open" once all are."""
    limits = httpx.Limits(max_connections=count + 10)
    async with httpx.AsyncClient(base_url=base, timeout=None, limits=limits) as client:
        opened: list[int] = []
        holders = [asyncio.create_task(_hold_stream(client, path, opened)) for _ in range(count)]
        while len(opened) < count:
            await asyncio.sleep(0.1)
        assert set(opened) <= {200}, opened
        print("open", flush=True)
        await asyncio.gather(*holders)


def _open_streams(base: str, path: str, count: int) -> subprocess.Popen[str]:
    """A process holding ``count`` open streams. Reading what 200 streams receive is work
    of its own: done in the timing client's loop, it would delay the timings it makes."""
    holder = subprocess.Popen(
        [sys.executable, __file__, "--hold", base, path, str(count)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
    return holder


async def _phase(base: str, run_id: str, args: argparse.Namespace) -> dict[str, list[float]]:
    events = f"/api/runs/{run_id}/events"
    holder = _open_streams(base, events, args.streams)
    # Idle connections are dropped before uvicorn's 5 s keep-alive ends, so none is
    # reused just as the server closes it.
    limits = httpx.Limits(max_connections=args.clients + 10, keepalive_expiry=2)
    try:
        async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
            lags: list[float] = []
            lagging = asyncio.create_task(_lag(lags))
            found = {
                "run": await _timed(
                    client, f"/api/runs/{run_id}", clients=args.clients, total=args.requests
                ),
                "event": await _timed(
                    client, events, clients=args.clients, total=max(args.requests // 4, 100)
                ),
                "client lag": lags,
            }
            lagging.cancel()
    finally:
        holder.terminate()
        holder.wait(timeout=30)
    return found


def _stalls(log: Path, offset: int) -> tuple[list[float], int]:
    """Seconds of each event-loop stall the server logged after ``offset``, and the new end."""
    with log.open("rb") as file:
        file.seek(offset)
        text = file.read().decode(errors="replace")
    found = [float(ms) / 1000 for ms in re.findall(r"event loop was blocked for (\d+) ms", text)]
    return found, offset + len(text.encode())


def _wait_for_training(base: str, run_id: str, count: int = 2) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        listed = httpx.get(f"{base}/api/runs/{run_id}/candidates", params={"status": "training"})
        if listed.json()["total"] >= count:
            time.sleep(5)  # past the sandboxes' start-up, into training proper
            return
        time.sleep(0.5)
    raise TimeoutError(f"{count} candidates were not training within 300 s")


def measure(url: str, folder: Path, args: argparse.Namespace) -> dict[str, dict[str, list[float]]]:
    """Idle and busy latencies of one backend at ``url``."""
    env = cli_env(
        folder / "data",
        database_url=url,
        workers="2",
        sandbox_nice=str(args.sandbox_nice),
        sandbox_idle_class="1" if args.sandbox_class == "idle" else "0",
        loop_stall_warning_ms="200",
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_cli(["serve", "--port", str(port), "--workers", "0"], env, folder / "serve.log")
    worker = None
    try:
        wait_for_http(f"{base}/api/health", timeout=120, process=server)
        created = httpx.post(f"{base}/api/runs", json=RUN)
        created.raise_for_status()
        run_id = created.json()["id"]
        log = folder / "serve.log"
        seen = log.stat().st_size
        idle = asyncio.run(_phase(base, run_id, args))
        idle["server stalls"], seen = _stalls(log, seen)
        worker = start_cli(["worker"], env, folder / "worker.log")
        _wait_for_training(base, run_id)
        seen = log.stat().st_size
        busy = asyncio.run(_phase(base, run_id, args))
        busy["server stalls"], seen = _stalls(log, seen)
        httpx.post(f"{base}/api/runs/{run_id}/cancel")
    finally:
        for process in (worker, server):
            if process is not None:
                process.terminate()
                process.wait(timeout=60)
    return {"idle": idle, "busy": busy}


@contextmanager
def postgres(url: str | None) -> Iterator[str | None]:
    """A URL of a fresh database on ``url``'s server or a throwaway cluster; None if neither."""
    if url is None:
        bin_dir = find_server_bin()
        if bin_dir is None:
            yield None
            return
        cluster = ThrowawayCluster(bin_dir)
        try:
            url = cluster.start()
            yield url
        finally:
            cluster.stop()
        return
    name = f"rf_bench_{uuid.uuid4().hex[:8]}"
    create_database(url, name)
    yield url.rsplit("/", 1)[0] + f"/{name}"


def _keep(folder: Path, into: Path | None) -> None:
    if into is not None:
        into.mkdir(parents=True, exist_ok=True)
        for log in folder.glob("*.log"):
            shutil.copy(log, into / f"{folder.name}-{log.name}")


def _pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] * 1000


def report(results: dict[str, dict[str, dict[str, list[float]]]], args: argparse.Namespace) -> None:
    print(
        f"{args.clients} clients, {args.streams} open event streams, {args.requests} GETs of the "
        f"run per phase, cores: {os.cpu_count()}; busy = two HalfCheetah candidates training "
        f"at niceness {args.sandbox_nice}, scheduling class {args.sandbox_class}"
    )
    header = f"{'backend':9} {'endpoint':12} {'idle p50':>9} {'idle p99':>9} "
    print(header + f"{'busy p50':>9} {'busy p99':>9} {'p99 ratio':>9}")
    for backend, phases in results.items():
        for name, label in (("run", "GET run"), ("event", "first event")):
            i50, i99 = _pct(phases["idle"][name], 50), _pct(phases["idle"][name], 99)
            b50, b99 = _pct(phases["busy"][name], 50), _pct(phases["busy"][name], 99)
            verdict = "ok" if b99 / i99 <= TARGET else f"over {TARGET}x"
            print(
                f"{backend:9} {label:12} {i50:7.1f}ms {i99:7.1f}ms {b50:7.1f}ms {b99:7.1f}ms "
                f"{b99 / i99:9.2f}  {verdict}"
            )
        for phase in ("idle", "busy"):
            lag, stalls = phases[phase]["client lag"], phases[phase]["server stalls"]
            print(
                f"{backend:9} {phase}: client loop lag p99 {_pct(lag, 99):.1f} ms, max "
                f"{max(lag) * 1000:.0f} ms; server loop stalls over 200 ms: {len(stalls)}"
                + (f", longest {max(stalls) * 1000:.0f} ms" if stalls else "")
            )


def main() -> None:
    if sys.argv[1:2] == ["--hold"]:  # the stream-holding process of _open_streams
        base, path, count = sys.argv[2:5]
        asyncio.run(_hold_streams(base, path, int(count)))
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--postgres-url", default=None)
    parser.add_argument(
        "--keep-logs", type=Path, default=None, help="copy each backend's server log here"
    )
    parser.add_argument(
        "--sandbox-nice", type=int, default=Settings.model_fields["sandbox_nice"].default
    )
    parser.add_argument(
        "--sandbox-class",
        choices=("idle", "normal"),
        default="idle" if Settings.model_fields["sandbox_idle_class"].default else "normal",
    )
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends.split(","):
            folder = Path(tmp) / backend
            folder.mkdir()
            if backend == "sqlite":
                try:
                    results[backend] = measure(f"sqlite:///{folder / 'rf.db'}", folder, args)
                finally:
                    _keep(folder, args.keep_logs)
                continue
            with postgres(args.postgres_url) as url:
                if url is None:
                    print("postgres: no server binaries and no --postgres-url; skipped")
                    continue
                try:
                    results[backend] = measure(url, folder, args)
                finally:
                    _keep(folder, args.keep_logs)
    report(results, args)


if __name__ == "__main__":
    main()
