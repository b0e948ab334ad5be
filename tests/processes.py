"""Start rewardforge's own commands as real processes, the way a user would."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "app.cli"]


def offline_run_args(
    *,
    iterations: int,
    samples: int,
    timesteps: int,
    final_seeds: int = 0,
    n_envs: int | None = None,
    env_id: str = "MountainCarContinuous-v0",
) -> list[str]:
    """``rewardforge run`` of an offline search at a test's budget: one evaluation
    episode, no film (films are tested where they are shown: the dashboard, the demo)."""
    args = ["run", "--env", env_id, "--task", "reach the flag", "--offline"]
    args += ["--iterations", str(iterations), "--samples", str(samples)]
    args += ["--timesteps", str(timesteps), "--final-seeds", str(final_seeds)]
    args += ["--eval-episodes", "1", "--no-video"]
    return args + (["--n-envs", str(n_envs)] if n_envs is not None else [])


def cli_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """A clean environment for a rewardforge process: its own data dir and settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REWARDFORGE_", "OPENAI_"))}
    env["REWARDFORGE_DATA_DIR"] = str(data_dir)
    env["REWARDFORGE_WORKERS"] = "2"
    env.setdefault("MUJOCO_GL", "egl")
    env["PYTHONUNBUFFERED"] = "1"
    for key, value in settings.items():
        env[f"REWARDFORGE_{key.upper()}"] = value
    return env


def run_cli(
    args: list[str], env: dict[str, str], *, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout
    )


def start_cli(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("wb")
    return subprocess.Popen(
        [*CLI, *args], env=env, cwd=REPO, stdout=handle, stderr=subprocess.STDOUT
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_http(
    url: str, *, timeout: float = 60, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def wait_until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``predicate`` until it returns something truthy (returned), or time out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
