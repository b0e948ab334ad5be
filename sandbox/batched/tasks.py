"""What each covered Gymnasium v5 env does on top of its MuJoCo model, in torch.

A task reads its parameters (reward weights, healthy ranges, reset noise, frame
skip) from the Gymnasium env itself, so a card's ``make_kwargs`` reach both
simulators alike, and computes on batched tensors what that env computes on one
world: the observation, the env reward and its parts, the step info, and whether
the episode terminated. The formulas follow ``gymnasium/envs/mujoco/*_v5.py``
line by line; the equivalence tests (tests/sandbox/test_batched_equivalence.py)
hold them to it.

Tensors: ``qpos`` (B, nq) and ``qvel`` (B, nv), on the simulator's device.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch

Tensor = torch.Tensor


@dataclass(frozen=True)
class Sim:
    """The simulator arrays a task reads, as torch views of the batched data."""

    qpos: Tensor
    qvel: Tensor


@dataclass
class Outcome:
    """One batched env step, as Gymnasium's ``step`` returns it (less truncation)."""

    reward: Tensor  # (B,)
    terminated: Tensor  # (B,) bool
    info: dict[str, Tensor]  # each (B,): the per-env info dict, columnwise


@dataclass
class Task:
    """One env's rules. ``anchor`` is what its velocity is measured on (x or xy)."""

    env_id: str
    frame_skip: int
    dt: float
    init_qpos: np.ndarray
    init_qvel: np.ndarray
    noise_scale: float
    qvel_noise: Literal["uniform", "normal"]
    params: dict[str, Any] = field(default_factory=dict)

    def anchor(self, sim: Sim) -> Tensor:
        raise NotImplementedError

    def observe(self, sim: Sim) -> Tensor:
        raise NotImplementedError

    def outcome(self, sim: Sim, before: Tensor, action: Tensor) -> Outcome:
        raise NotImplementedError

    def reset_info(self, qpos: Tensor) -> dict[str, Tensor]:
        return {"x_position": qpos[:, 0]}


def _ctrl_cost(weight: float, action: Tensor) -> Tensor:
    return weight * torch.sum(torch.square(action), dim=1)


class Planar(Task):
    """HalfCheetah, Hopper, Walker2d: x-z bodies whose root is (x, z, pitch)."""

    def anchor(self, sim: Sim) -> Tensor:
        return sim.qpos[:, :1]

    def observe(self, sim: Sim) -> Tensor:
        qvel = sim.qvel
        if self.params.get("clip_qvel"):
            qvel = torch.clamp(qvel, -10.0, 10.0)
        return torch.cat((sim.qpos[:, 1:], qvel), dim=1)

    def healthy(self, sim: Sim) -> Tensor | None:
        p = self.params
        if "healthy_z_range" not in p:
            return None
        z, angle = sim.qpos[:, 1], sim.qpos[:, 2]
        (min_z, max_z), (min_a, max_a) = p["healthy_z_range"], p["healthy_angle_range"]
        ok = (min_z < z) & (z < max_z) & (min_a < angle) & (angle < max_a)
        if "healthy_state_range" in p:  # Hopper also bounds every other coordinate
            lo, hi = p["healthy_state_range"]
            rest = torch.cat((sim.qpos, sim.qvel), dim=1)[:, 2:]
            ok &= torch.all((lo < rest) & (rest < hi), dim=1)
        return ok

    def outcome(self, sim: Sim, before: Tensor, action: Tensor) -> Outcome:
        p = self.params
        x_after = sim.qpos[:, 0]
        x_velocity = (x_after - before[:, 0]) / self.dt
        forward = p["forward_reward_weight"] * x_velocity
        ctrl = _ctrl_cost(p["ctrl_cost_weight"], action)
        info = {
            "x_position": x_after,
            "x_velocity": x_velocity,
            "reward_forward": forward,
            "reward_ctrl": -ctrl,
        }
        healthy = self.healthy(sim)
        reward = forward - ctrl
        terminated = torch.zeros_like(x_after, dtype=torch.bool)
        if healthy is not None:
            survive = healthy.to(x_after.dtype) * p["healthy_reward"]
            reward = forward + survive - ctrl
            info["reward_survive"] = survive
            info["z_distance_from_origin"] = sim.qpos[:, 1] - float(self.init_qpos[1])
            if p["terminate_when_unhealthy"]:
                terminated = ~healthy
        return Outcome(reward, terminated, info)

    def reset_info(self, qpos: Tensor) -> dict[str, Tensor]:
        info = {"x_position": qpos[:, 0]}
        if "healthy_z_range" in self.params:
            info["z_distance_from_origin"] = qpos[:, 1] - float(self.init_qpos[1])
        return info


class Swimmer(Task):
    """Swimmer: the front segment's x-y position is the anchor; it never ends early."""

    def anchor(self, sim: Sim) -> Tensor:
        return sim.qpos[:, :2]

    def observe(self, sim: Sim) -> Tensor:
        return torch.cat((sim.qpos[:, 2:], sim.qvel), dim=1)

    def outcome(self, sim: Sim, before: Tensor, action: Tensor) -> Outcome:
        p = self.params
        after = sim.qpos[:, :2]
        velocity = (after - before) / self.dt
        forward = p["forward_reward_weight"] * velocity[:, 0]
        ctrl = _ctrl_cost(p["ctrl_cost_weight"], action)
        info = {
            "x_position": after[:, 0],
            "y_position": after[:, 1],
            "distance_from_origin": torch.linalg.vector_norm(after, dim=1),
            "x_velocity": velocity[:, 0],
            "y_velocity": velocity[:, 1],
            "reward_forward": forward,
            "reward_ctrl": -ctrl,
        }
        terminated = torch.zeros_like(forward, dtype=torch.bool)
        return Outcome(forward - ctrl, terminated, info)

    def reset_info(self, qpos: Tensor) -> dict[str, Tensor]:
        return _planar_position_info(qpos)


def _planar_position_info(qpos: Tensor) -> dict[str, Tensor]:
    return {
        "x_position": qpos[:, 0],
        "y_position": qpos[:, 1],
        "distance_from_origin": torch.linalg.vector_norm(qpos[:, :2], dim=1),
    }


_PARAMS: dict[str, tuple[type[Task], tuple[str, ...], Literal["uniform", "normal"]]] = {
    # env id: (rules, the env's private parameters it reads, how qvel is perturbed)
    "HalfCheetah-v5": (Planar, ("forward_reward_weight", "ctrl_cost_weight"), "normal"),
    "Hopper-v5": (
        Planar,
        (
            "forward_reward_weight",
            "ctrl_cost_weight",
            "healthy_reward",
            "terminate_when_unhealthy",
            "healthy_state_range",
            "healthy_z_range",
            "healthy_angle_range",
        ),
        "uniform",
    ),
    "Walker2d-v5": (
        Planar,
        (
            "forward_reward_weight",
            "ctrl_cost_weight",
            "healthy_reward",
            "terminate_when_unhealthy",
            "healthy_z_range",
            "healthy_angle_range",
        ),
        "uniform",
    ),
    "Swimmer-v5": (Swimmer, ("forward_reward_weight", "ctrl_cost_weight"), "uniform"),
}


def task_for(env: Any) -> Task:
    """The task of an (unwrapped) Gymnasium MuJoCo env, with that env's parameters."""
    env_id = env.spec.id if env.spec is not None else type(env).__name__
    if env_id not in _PARAMS:
        raise ValueError(f"the batched simulator does not cover {env_id}")
    rules, names, qvel_noise = _PARAMS[env_id]
    params: dict[str, Any] = {name: getattr(env, f"_{name}") for name in names}
    if getattr(env, "_exclude_current_positions_from_observation", True) is not True:
        raise ValueError(f"{env_id}: the batched simulator needs the positions excluded")
    if env_id in ("Hopper-v5", "Walker2d-v5"):
        params["clip_qvel"] = True
    return rules(
        env_id=env_id,
        frame_skip=int(env.frame_skip),
        dt=float(env.dt),
        init_qpos=np.array(env.init_qpos, dtype=np.float64),
        init_qvel=np.array(env.init_qvel, dtype=np.float64),
        noise_scale=float(env._reset_noise_scale),
        qvel_noise=qvel_noise,
        params=params,
    )
