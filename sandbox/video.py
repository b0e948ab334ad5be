"""Rollout videos browsers can play: H.264 in MP4, yuv420p, modest resolution,
played at the env's real time.

An env step lasts ``dt`` simulated seconds (Walker2d: 0.008 s, HalfCheetah:
0.05 s). Filming every step at 1/dt frames per second would be real time, but
125 frames per second is more than a browser shows and five times the frames
to render and store; so a video keeps every ``stride``-th step and plays at
1 / (stride * dt), at most ``MAX_FPS``. A film is capped both in env steps and
in seconds, long enough to judge a gait, small enough to store per candidate.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import imageio.v2 as imageio
import numpy as np
from PIL import Image

MAX_WIDTH = 320
MAX_FPS = 30.0
_BLOCK = 16  # H.264 macroblock: frame sides are kept at multiples of it


@dataclass(frozen=True)
class FilmPlan:
    """Which steps of an episode become frames, and how fast they play."""

    stride: int  # one frame every ``stride`` env steps (the reset state is frame 0)
    fps: float  # 1 / (stride * dt): the video lasts as long as the filmed steps did
    max_frames: int

    @classmethod
    def for_env(cls, step_seconds: float, *, max_steps: int, max_seconds: float) -> FilmPlan:
        """The plan for an env whose step lasts ``step_seconds`` simulated seconds."""
        stride = max(1, math.ceil(1.0 / (step_seconds * MAX_FPS) - 1e-9))
        steps = min(max_steps, math.floor(max_seconds / step_seconds + 1e-9))
        return cls(stride, 1.0 / (stride * step_seconds), max(1, steps // stride))

    def films(self, step: int) -> bool:
        """Whether the state after env step ``step`` (0: the reset state) is a frame."""
        return step % self.stride == 0


def frame_size(width: int, height: int, max_width: int = MAX_WIDTH) -> tuple[int, int]:
    """(width, height) no wider than ``max_width``, aspect kept, multiples of 16."""
    scale = min(1.0, max_width / width)
    return (
        max(_BLOCK, round(width * scale / _BLOCK) * _BLOCK),
        max(_BLOCK, round(height * scale / _BLOCK) * _BLOCK),
    )


class VideoWriter:
    """Append RGB frames of any size; they are resized to one fixed, playable size.

    The encoder writes into a fresh private directory and the finished file is
    renamed onto ``path``, so a link planted at ``path`` is replaced, never followed.
    """

    def __init__(self, path: Path, fps: float) -> None:
        self.path = path
        self.fps = fps
        self.frames = 0
        self._input: tuple[int, int] | None = None  # the first frame's size
        self._writer: Any = None
        self._scratch: Path | None = None

    def append(self, frame: np.ndarray) -> None:
        """Add a frame. ffmpeg scales the frames to the video's size (much faster than
        resizing each one here); a frame of another size than the first is resized to it."""
        native = (frame.shape[1], frame.shape[0])
        if self._writer is None:
            self._input = native
            width, height = frame_size(*native)
            scale = [] if native == (width, height) else ["-vf", f"scale={width}:{height}"]
            self._scratch = Path(tempfile.mkdtemp(dir=self.path.parent, prefix=".video-"))
            self._writer = imageio.get_writer(
                self._scratch / self.path.name,
                format="FFMPEG",  # type: ignore[arg-type]
                fps=self.fps,
                codec="libx264",
                pixelformat="yuv420p",
                macro_block_size=1,  # the scale filter makes the output's sides multiples of 16
                ffmpeg_log_level="error",
                output_params=[*scale, "-movflags", "+faststart"],
            )
        if self._input is not None and native != self._input:
            resized = Image.fromarray(frame).resize(self._input, Image.Resampling.BILINEAR)
            frame = np.asarray(resized)
        self._writer.append_data(np.ascontiguousarray(frame, dtype=np.uint8))
        self.frames += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._scratch is not None:
            os.chmod(self._scratch / self.path.name, 0o644)
            os.replace(self._scratch / self.path.name, self.path)
            shutil.rmtree(self._scratch)
            self._scratch = None


class Film:
    """One episode on video: a frame of ``shoot()`` for each step the plan keeps."""

    def __init__(
        self, shoot: Callable[[], np.ndarray], writer: VideoWriter, plan: FilmPlan
    ) -> None:
        self.shoot = shoot
        self.writer = writer
        self.plan = plan

    def after_step(self, step: int) -> None:
        """Call after reset (step 0) and after every env step."""
        if self.plan.films(step) and self.writer.frames < self.plan.max_frames:
            self.writer.append(self.shoot())

    def close(self) -> None:
        self.writer.close()
