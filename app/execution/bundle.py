"""Files carried between the service's store and a remote node, as bytes.

A bundle maps plain relative paths ("stats.json", "checkpoint/model.zip") to
file contents. Packing reads only regular files (never through a link a
sandbox may have planted) and stops at a byte budget; unpacking refuses any
name that would land outside the target directory.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

Bundle = dict[str, bytes]


def list_files(directory: Path) -> list[str]:
    """Names of the regular files directly in ``directory`` (sorted; [] if it is missing)."""
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [e.name for e in entries if e.is_file(follow_symlinks=False)]


def pack(directory: Path, names: Iterable[str], max_bytes: int) -> tuple[Bundle, list[str]]:
    """Read ``names`` under ``directory`` in order while they fit in ``max_bytes``.

    Returns the bundle and the names left out (too big for what was left of the
    budget, or not a regular file). Missing files are skipped silently.
    """
    bundle: Bundle = {}
    left_out: list[str] = []
    budget = max_bytes
    for name in names:
        try:
            data = _read_regular(directory / _checked(name), budget)
        except FileNotFoundError:
            continue
        except (OSError, ValueError):
            left_out.append(name)
            continue
        bundle[name] = data
        budget -= len(data)
    return bundle, left_out


def unpack(bundle: Bundle, directory: Path) -> None:
    """Write every file of ``bundle`` under ``directory``, each replaced atomically."""
    for name, data in bundle.items():
        target = directory / _checked(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.partial")
        tmp.write_bytes(data)
        os.replace(tmp, target)


def _checked(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if not name or path.is_absolute() or any(part in ("", ".", "..") for part in path.parts):
        raise ValueError(f"not a plain relative file name: {name!r}")
    return path


def _read_regular(path: Path, max_bytes: int) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"{path.name} is not a regular file")
        if info.st_size > max_bytes:
            raise ValueError(f"{path.name} is larger than the {max_bytes} bytes left")
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError(f"{path.name} grew past the {max_bytes} bytes left")
    return data
