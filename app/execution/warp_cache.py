"""Compiled MuJoCo Warp kernels for a batched-simulator candidate, without trusting it.

Each training sandbox compiles into a kernel cache of its own (``WARP_CACHE_PATH``
in its output directory, set by the launcher), so no candidate can replace the
kernels another one loads. Compiling from nothing costs tens of seconds per
candidate, so before a batched training starts the launcher fills that cache
with a copy of a trusted one: ``<data_dir>/warp-cache/<env>-<device>``, which
``python -m sandbox.batched.warm`` compiled once, outside any sandbox (it runs
no candidate code), under a lock so that parallel candidates wait for one
compile. Should the warm-up fail the candidate simply compiles for itself.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from app.config import get_settings
from sandbox.batched import unavailable_reason
from sandbox.spec import TrainSpec

log = logging.getLogger(__name__)

WARM_TIMEOUT_S = 900.0
DONE_MARKER = "warmed"


def trusted_cache(env_id: str, device: str) -> Path:
    """The trusted cache of one env on one kind of device ("cpu" or "cuda")."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{env_id}-{device}")
    return (get_settings().data_dir / "warp-cache" / name).resolve()


def warm(env_id: str, device: str) -> Path | None:
    """The trusted cache for ``env_id`` on ``device``, compiled now if it is not yet;
    None when the warm-up failed (logged)."""
    cache = trusted_cache(env_id, device)
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache.parent / f"{cache.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (cache / DONE_MARKER).exists():
            return cache
        env = {**os.environ, "WARP_CACHE_PATH": str(cache)}
        command = [sys.executable, "-m", "sandbox.batched.warm", env_id, device]
        try:
            done = subprocess.run(
                command, env=env, capture_output=True, text=True, timeout=WARM_TIMEOUT_S
            )
        except subprocess.TimeoutExpired:
            log.warning("warming MuJoCo Warp kernels for %s took over %ss", env_id, WARM_TIMEOUT_S)
            return None
        if done.returncode != 0:
            log.warning(
                "warming MuJoCo Warp kernels for %s failed: %s", env_id, done.stderr[-2000:]
            )
            return None
        (cache / DONE_MARKER).write_text("compiled by sandbox.batched.warm\n")
        return cache


def seed_cache(spec: TrainSpec, candidate_cache: Path, *, gpu: bool) -> None:
    """Give a batched-simulator candidate a private copy of the trusted kernel cache
    (``gpu``: whether its sandbox gets the GPU, so its worlds run on CUDA). A data
    directory that cannot be written (read-only, full) costs only the speed-up: the
    candidate then compiles for itself."""
    if spec.simulator != "mujoco_warp" or unavailable_reason(spec.env_id, spec.simulator):
        return  # the worker reports why it cannot train
    try:
        trusted = warm(spec.env_id, "cuda" if gpu else "cpu")
        if trusted is not None:
            shutil.copytree(
                trusted,
                candidate_cache,
                dirs_exist_ok=True,
                ignore=shutil.ignore_patterns(DONE_MARKER),
            )
    except OSError as exc:
        log.warning("no compiled MuJoCo Warp kernels for %s: %s", spec.env_id, exc)
