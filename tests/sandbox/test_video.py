"""Rollout videos show the behaviour: the camera follows a running agent, and a
video lasts as long as the steps it shows took in the simulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import gymnasium as gym
import imageio.v2 as imageio
import mujoco
import numpy as np
import pytest

from envs import get_card
from sandbox.camera import MujocoCamera, step_seconds
from sandbox.evaluate import make_env, open_film
from sandbox.spec import VIDEO_FILE, EvalSpec
from sandbox.video import MAX_FPS, FilmPlan
from tests.processes import REPO
from tests.sandbox.jobs import one_episode

GEOM = int(mujoco.mjtObj.mjOBJ_GEOM)


def trot(dt: float, frequency: float = 4.0, phase: float = 1.5):
    """An open-loop HalfCheetah gait (back legs, then front legs a phase later):
    it runs forward about 1.3 m/s, much further than a still camera's view."""
    step = 0

    def act(_obs: np.ndarray) -> np.ndarray:
        nonlocal step
        t = 2 * np.pi * frequency * step * dt
        step += 1
        back = np.sin(t + np.array([0.0, 0.5, 1.0]))
        return np.concatenate([back, np.sin(t + phase + np.array([0.0, 0.5, 1.0]))]).astype(
            np.float32
        )

    return act


class TorsoLook:
    """Where the torso is in a camera's view, from MuJoCo's segmentation rendering."""

    def __init__(self, env: gym.Env, camera: mujoco.MjvCamera) -> None:
        self.model = env.unwrapped.model  # type: ignore[attr-defined]
        self.data = env.unwrapped.data  # type: ignore[attr-defined]
        self.camera = camera
        self.renderer = mujoco.Renderer(self.model, height=240, width=320)
        self.renderer.enable_segmentation_rendering()
        self.torso = [g for g in range(self.model.ngeom) if self.model.geom_bodyid[g] == 1]

    def __call__(self) -> tuple[int, float]:
        """(torso pixels, torso centre across the frame: 0 left edge, 1 right edge)."""
        self.renderer.update_scene(self.data, camera=self.camera)
        seg = self.renderer.render()
        ys, xs = np.nonzero(np.isin(seg[..., 0], self.torso) & (seg[..., 1] == GEOM))
        return len(xs), float(xs.mean() / seg.shape[1]) if len(xs) else float("nan")


def _spec(env_id: str, out: Path, **changes: object) -> EvalSpec:
    card = get_card(env_id)
    return EvalSpec(
        env_id=env_id,
        fitness_metric=card.fitness_metrics[0].name,
        policy_path=str(out / "unused.pt"),
        output_dir=str(out),
        **changes,  # type: ignore[arg-type]
    )


def _mp4(path: Path) -> tuple[float, int]:
    """(frames per second the file declares, frames it holds)."""
    reader = imageio.get_reader(path)
    fps = float(reader.get_meta_data()["fps"])
    frames = sum(1 for _ in reader)
    reader.close()
    return fps, frames


@pytest.mark.parametrize(
    ("env_id", "stride", "fps", "frames"),
    [
        ("Walker2d-v5", 5, 25.0, 200),  # dt 0.008: 1000 steps are 8 s, every 5th filmed
        ("HalfCheetah-v5", 1, 20.0, 400),  # dt 0.05: 20 s are 400 steps
        ("Humanoid-v5", 3, 200 / 9, 333),  # dt 0.015: 1000 steps are 15 s
        ("CartPole-v1", 2, 25.0, 500),  # tau 0.02: 20 s are 1000 steps, every 2nd filmed
        ("Pendulum-v1", 1, 20.0, 400),  # dt 0.05, though it declares render_fps 30
    ],
)
def test_film_plan_plays_at_the_envs_real_time(
    env_id: str, stride: int, fps: float, frames: int
) -> None:
    env = gym.make(env_id)
    dt = step_seconds(env)
    env.close()
    plan = FilmPlan.for_env(dt, max_steps=1000, max_seconds=20.0)
    assert (plan.stride, plan.max_frames) == (stride, frames)
    assert plan.fps == pytest.approx(fps) and plan.fps <= MAX_FPS
    assert plan.fps * plan.stride * dt == pytest.approx(1.0)  # one video second: one env second


def film_cheetah(out: Path, seconds: float) -> dict[str, Any]:
    """Film the trotting cheetah as the evaluator does, looking at each frame's torso
    through the video's camera and through a camera parked where the episode starts."""
    spec = _spec("HalfCheetah-v5", out, video_max_seconds=seconds)
    card = get_card(spec.env_id)
    env, camera = make_env(spec, card)
    assert isinstance(camera, MujocoCamera) and camera.tracking
    film = open_film(env, camera, spec)
    env.reset(seed=0)
    still = mujoco.MjvCamera()  # what the old fixed camera saw
    still.azimuth, still.elevation, still.distance = 90.0, -20.0, camera.camera.distance
    still.lookat[:] = env.unwrapped.data.subtree_com[1]  # type: ignore[attr-defined]
    tracked_view, still_view = TorsoLook(env, camera.camera), TorsoLook(env, still)
    seen: list[tuple[tuple[int, float], tuple[int, float]]] = []
    shoot = film.shoot

    def shoot_and_look() -> np.ndarray:
        frame = shoot()
        seen.append((tracked_view(), still_view()))
        return frame

    film.shoot = shoot_and_look
    try:
        one_episode(env, trot(step_seconds(env)), card, card.metric(spec.fitness_metric), 0, film)
        travelled = float(env.unwrapped.data.qpos[0])  # type: ignore[attr-defined]
    finally:
        film.close()
        camera.close()
        env.close()
    return {"travelled": travelled, "seen": seen}


def film_walker(out: Path) -> dict[str, Any]:
    """Film a Walker2d that flails and falls, as the evaluator does."""
    spec = _spec("Walker2d-v5", out)
    card = get_card(spec.env_id)
    env, camera = make_env(spec, card)
    assert camera is not None
    film = open_film(env, camera, spec)
    rng = np.random.default_rng(0)
    try:
        episode = one_episode(
            env,
            lambda _obs: rng.uniform(-0.3, 0.3, size=6).astype(np.float32),
            card,
            card.metric(spec.fitness_metric),
            0,
            film,
        )
    finally:
        film.close()
        camera.close()
        env.close()
    return {"length": episode.length}


def _in_a_rendering_process(function: str, *args: object) -> Any:
    """Run ``function`` of this module in a fresh interpreter with MuJoCo's headless
    GL, as the launcher starts the evaluator (the GL backend is fixed at import)."""
    code = (
        "import json, sys; from pathlib import Path; "
        f"from tests.sandbox.test_video import {function}; "
        f"print(json.dumps({function}(Path(sys.argv[1]), *json.loads(sys.argv[2]))))"
    )
    env = {**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL") or "egl"}
    done = subprocess.run(
        [sys.executable, "-c", code, str(args[0]), json.dumps(args[1:])],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_camera_follows_a_running_cheetah_and_the_video_lasts_its_env_time(
    tmp_path: Path,
) -> None:
    seconds = 10.0
    result = _in_a_rendering_process("film_cheetah", tmp_path, seconds)
    assert result["travelled"] > 8.0  # metres: several widths of a still camera's view
    seen = result["seen"]
    assert len(seen) == 200
    for (pixels, centre), _ in seen:
        assert pixels > 100 and 0.25 < centre < 0.75
    assert seen[-1][1][0] == 0  # the still camera lost the cheetah long before the end
    fps, frames = _mp4(tmp_path / VIDEO_FILE)
    assert (fps, frames) == (20.0, 200)
    assert frames / fps == pytest.approx(seconds)


def test_walker_video_is_not_played_at_125_frames_per_second(tmp_path: Path) -> None:
    length = _in_a_rendering_process("film_walker", tmp_path)["length"]
    fps, frames = _mp4(tmp_path / VIDEO_FILE)
    assert fps == 25.0
    assert length < 995  # it falls: the whole episode is on film
    filmed_steps = length - length % 5
    assert frames == 1 + filmed_steps // 5
    # The video lasts as long as the steps it shows took (0.008 s each), within a frame.
    assert frames / fps == pytest.approx(filmed_steps * 0.008, abs=1 / fps + 1e-9)


def test_frames_of_any_size_become_one_playable_size(tmp_path: Path) -> None:
    """Classic control renders 600 x 400: ffmpeg scales it to 320 wide with sides that are
    multiples of 16; a frame of another size than the first is resized to fit the rest."""
    from sandbox.video import VideoWriter

    writer = VideoWriter(tmp_path / VIDEO_FILE, fps=20.0)
    rng = np.random.default_rng(0)
    for _ in range(9):
        writer.append(rng.integers(0, 255, (400, 600, 3), dtype=np.uint8))
    writer.append(rng.integers(0, 255, (123, 77, 3), dtype=np.uint8))
    writer.close()
    assert writer.frames == 10
    reader = imageio.get_reader(tmp_path / VIDEO_FILE)
    try:
        assert reader.get_meta_data()["size"] == (320, 208)
        assert reader.count_frames() == 10
    finally:
        reader.close()
    assert [p.name for p in tmp_path.iterdir()] == [VIDEO_FILE]  # no scratch left
