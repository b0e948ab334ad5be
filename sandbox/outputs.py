"""Writing the worker's JSON files: atomically, and with finite numbers only.

Readers (the launcher, polling) must never see half a file, and strict JSON
(Postgres JSON columns, browsers) has no NaN or Infinity, so non-finite floats
become ``null``. Files are written to a fresh temporary name (never through a
link someone planted) and renamed into place.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from sandbox.spec import HEARTBEAT_FILE


def finite_or_none(value: float) -> float | None:
    """``value`` as a float, or None when it is NaN or infinite."""
    value = float(value)
    return value if math.isfinite(value) else None


def to_json(obj: Any) -> str:
    """Compact strict JSON of ``obj``, with non-finite floats as null."""
    return json.dumps(_finite(obj), separators=(",", ":"), allow_nan=False)


def write_json(path: str | Path, obj: Any) -> int:
    """Atomically replace ``path`` with the JSON of ``obj``; returns its size in bytes."""
    return write_text(path, to_json(obj))


def write_text(path: str | Path, text: str) -> int:
    """Atomically replace ``path`` with ``text``; returns its size in bytes."""
    path = Path(path)
    data = text.encode()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # O_EXCL: no links
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return len(data)


def write_heartbeat(output_dir: Path, steps: int) -> None:
    """Tell the launcher the worker is alive and how far it got."""
    write_json(output_dir / HEARTBEAT_FILE, {"steps": int(steps), "time": time.time()})


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return finite_or_none(obj)
    if isinstance(obj, dict):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj
