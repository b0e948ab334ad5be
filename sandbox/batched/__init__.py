"""The GPU-batched simulator: thousands of MuJoCo envs of one card stepped together.

``simulator="mujoco"`` (the default) trains on Gymnasium's own envs, one MuJoCo
model each, stepped in turn on the CPU. ``simulator="mujoco_warp"`` steps all of a
candidate's envs as the worlds of one MuJoCo Warp model: on CUDA when the
sandbox's device is a GPU, on Warp's CPU backend otherwise (slow, but the same
code, which is how the equivalence tests run without a GPU).

This module is imported by the service to check options, so it must stay light:
it names the simulators and the cards the batched one covers, and never imports
warp.
"""

from __future__ import annotations

import importlib.util
from typing import Literal

Simulator = Literal["mujoco", "mujoco_warp"]
SIMULATORS: tuple[str, ...] = ("mujoco", "mujoco_warp")

BATCHED_ENV_IDS: tuple[str, ...] = (
    "HalfCheetah-v5",
    "Hopper-v5",
    "Walker2d-v5",
    "Swimmer-v5",
)
"""The cards the batched simulator reproduces (``sandbox.batched.tasks``). Ant and
Humanoid are not among them: for a capsule on the floor MuJoCo Warp picks other
tangent directions for the contact than MuJoCo's C library, so their pyramidal
friction cones differ and the same step from the same state ends elsewhere."""

MAX_BATCHED_ENVS = 8192


def unavailable_reason(env_id: str, simulator: str) -> str | None:
    """Why ``simulator`` cannot train ``env_id`` here, or None when it can."""
    if simulator == "mujoco":
        return None
    if simulator != "mujoco_warp":
        return f"unknown simulator {simulator!r}; use one of {', '.join(SIMULATORS)}"
    if env_id not in BATCHED_ENV_IDS:
        return (
            f"simulator 'mujoco_warp' does not cover {env_id}; it covers "
            f"{', '.join(BATCHED_ENV_IDS)} (use simulator 'mujoco' for the others)"
        )
    missing = [m for m in ("warp", "mujoco_warp") if importlib.util.find_spec(m) is None]
    if missing:
        return (
            f"simulator 'mujoco_warp' needs the packages warp-lang and mujoco-warp; "
            f"not installed here: {', '.join(missing)}"
        )
    return None
