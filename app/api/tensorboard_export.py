"""A candidate's TensorBoard event files (SB3 wrote them in its sandbox) as one zip.

A sandbox wrote that folder, so it is read as untrusted: only regular files
named like TensorBoard's event files, no links (not followed, not served),
nothing resolving outside the artifacts folder, and no more than the size the
sandbox was allowed to keep.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

from app.db.models import Candidate
from sandbox.spec import TENSORBOARD_DIR, TENSORBOARD_MAX_BYTES

EVENT_PREFIX = "events.out.tfevents."


def event_files(candidate: Candidate, *, artifacts_dir: Path) -> list[tuple[str, Path]]:
    """(name inside the log folder, path) of each event file, sorted; [] when none."""
    if not candidate.artifact_dir:
        return []
    root = Path(candidate.artifact_dir) / TENSORBOARD_DIR
    if root.is_symlink() or not root.is_dir():
        return []
    base = artifacts_dir.resolve()
    found = []
    for folder, dirs, files in os.walk(root):  # os.walk does not descend into links
        dirs.sort()
        for name in sorted(files):
            path = Path(folder) / name
            if not name.startswith(EVENT_PREFIX) or path.is_symlink() or not path.is_file():
                continue
            if path.resolve().is_relative_to(base):
                found.append((path.relative_to(root).as_posix(), path))
    return found


def event_zip(candidate_id: str, files: list[tuple[str, Path]]) -> bytes:
    """The files in a zip under ``<candidate_id>/`` (point ``tensorboard --logdir`` at the
    unpacked folder); ValueError when they outgrow TENSORBOARD_MAX_BYTES together."""
    buffer = io.BytesIO()
    left = TENSORBOARD_MAX_BYTES
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, path in files:
            data = _read_no_follow(path, left)
            left -= len(data)
            archive.writestr(f"{candidate_id}/{name}", data)
    return buffer.getvalue()


def _read_no_follow(path: Path, limit: int) -> bytes:
    """The file's bytes, refusing a link swapped in meanwhile and more than ``limit`` bytes."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"the TensorBoard files are over {TENSORBOARD_MAX_BYTES} bytes")
    return data
