"""Rollout videos browsers can play: H.264 in MP4, yuv420p, modest resolution."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import imageio.v2 as imageio
import numpy as np
from PIL import Image

MAX_WIDTH = 320
_BLOCK = 16  # H.264 macroblock: frame sides are kept at multiples of it


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
        self._size: tuple[int, int] | None = None
        self._writer: Any = None
        self._scratch: Path | None = None

    def append(self, frame: np.ndarray) -> None:
        if self._writer is None:
            self._size = frame_size(frame.shape[1], frame.shape[0])
            self._scratch = Path(tempfile.mkdtemp(dir=self.path.parent, prefix=".video-"))
            self._writer = imageio.get_writer(
                self._scratch / self.path.name,
                format="FFMPEG",  # type: ignore[arg-type]
                fps=self.fps,
                codec="libx264",
                pixelformat="yuv420p",
                macro_block_size=_BLOCK,
                ffmpeg_log_level="error",
                output_params=["-movflags", "+faststart"],
            )
        assert self._size is not None
        if (frame.shape[1], frame.shape[0]) != self._size:
            frame = np.asarray(Image.fromarray(frame).resize(self._size, Image.Resampling.BILINEAR))
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
