"""Where rollout frames come from: a camera that keeps the agent in the picture.

Gymnasium's MuJoCo renderer films from a free camera parked where the episode
starts (its ``trackbodyid`` settings no longer take effect), so a running
cheetah leaves the frame within seconds. For MuJoCo envs we render with
MuJoCo's own renderer and a TRACKING camera on the agent's root body, at the
distance and elevation the env's designers chose; envs whose body does not
travel (Reacher, Pusher) keep a still camera on the whole scene. Every other
env films itself through ``env.render()``.
"""

from __future__ import annotations

from typing import Any, Protocol

import gymnasium as gym
import numpy as np

ROOT_BODY = 1  # the first body after the world: the torso of every MuJoCo agent
SIDE_AZIMUTH = 90.0  # look along +y, so forward (+x) runs left to right
ELEVATION = -20.0


class Camera(Protocol):
    def frame(self) -> np.ndarray: ...

    def close(self) -> None: ...


class EnvRenderCamera:
    """An env that renders itself (``render_mode="rgb_array"``)."""

    def __init__(self, env: gym.Env) -> None:
        self.env = env

    def frame(self) -> np.ndarray:
        return np.asarray(self.env.render())

    def close(self) -> None:
        pass


class MujocoCamera:
    """MuJoCo's offscreen renderer with a camera that follows the agent's root body."""

    def __init__(self, env: gym.Env, width: int, height: int) -> None:
        import mujoco

        self.mujoco = mujoco
        self.model: Any = env.unwrapped.model  # type: ignore[attr-defined]
        self.data: Any = env.unwrapped.data  # type: ignore[attr-defined]
        self.renderer = mujoco.Renderer(self.model, height=height, width=width)
        self.camera = mujoco.MjvCamera()
        self.tracking = travels(self.model)
        config = _designer_config(env)
        self.camera.azimuth = SIDE_AZIMUTH
        self.camera.elevation = float(config.get("elevation", ELEVATION))
        self.camera.distance = float(config.get("distance", self.model.stat.extent))
        if self.tracking:
            self.camera.type = mujoco.mjtCamera.mjCAMERA_TRACKING
            self.camera.trackbodyid = ROOT_BODY
        else:  # a still view of the whole scene, as Gymnasium frames it
            self.camera.type = mujoco.mjtCamera.mjCAMERA_FREE
            self.camera.lookat[:] = np.median(self.data.geom_xpos, axis=0)

    def frame(self) -> np.ndarray:
        self.renderer.update_scene(self.data, camera=self.camera)
        return self.renderer.render()

    def close(self) -> None:
        self.renderer.close()


def travels(model: Any) -> bool:
    """Whether the agent's root body can move through the world (a free or slide joint)."""
    import mujoco

    if model.nbody <= ROOT_BODY:
        return False
    moving = {int(mujoco.mjtJoint.mjJNT_FREE), int(mujoco.mjtJoint.mjJNT_SLIDE)}
    return any(
        int(model.jnt_bodyid[j]) == ROOT_BODY and int(model.jnt_type[j]) in moving
        for j in range(model.njnt)
    )


def is_mujoco(env: gym.Env) -> bool:
    unwrapped = env.unwrapped
    return (
        hasattr(unwrapped, "model")
        and hasattr(unwrapped, "data")
        and hasattr(unwrapped, "mujoco_renderer")
    )


def _designer_config(env: gym.Env) -> dict[str, Any]:
    # The distance and elevation each MuJoCo env's authors picked for its view.
    renderer = getattr(env.unwrapped, "mujoco_renderer", None)
    config = getattr(renderer, "default_cam_config", None)
    return dict(config) if isinstance(config, dict) else {}


def step_seconds(env: gym.Env) -> float:
    """Simulated seconds per env step: ``dt`` (MuJoCo, Pendulum, Acrobot), ``tau``
    (CartPole), else one frame of the env's own render rate."""
    unwrapped = env.unwrapped
    for name in ("dt", "tau"):
        value = getattr(unwrapped, name, None)
        if isinstance(value, int | float) and value > 0:
            return float(value)
    return 1.0 / float(env.metadata.get("render_fps") or 30)
