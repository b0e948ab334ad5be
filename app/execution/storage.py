"""Faults of the service's own storage, told apart from the failures of candidates.

When the disk that holds the artifacts turns read-only, fills up or fails,
candidates fail through no fault of their own reward code. Executors return
such a candidate with status "failed", error_kind "storage" and an error that
names the path and the errno (see :class:`~app.execution.executor.CandidateResult`).
Two ways to find one:

- an ``OSError`` with one of ``STORAGE_ERRNOS`` raised by the service's own file
  operations (making the output directory, writing a spec, landing a Ray
  task's files): :func:`fault`;
- a sandbox that failed may have failed because its directory stopped taking
  writes, but its own word proves nothing (reward code can raise
  ``OSError(ENOSPC)`` itself), so the service checks its storage itself: it
  writes, syncs and removes a small file beside the output directory, where no
  sandbox can write (:func:`probe`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import uuid
from pathlib import Path

from app.execution.executor import CandidateResult

STORAGE_ERRNOS = frozenset({errno.EROFS, errno.ENOSPC, errno.EIO, errno.EDQUOT})
PROBE_BYTES = 4096


def fault(exc: BaseException | None) -> str | None:
    """The storage fault behind ``exc`` (or an exception it was raised from), as a
    message naming the path and the errno; None when it is no storage fault."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS:
            return describe(exc, exc.filename)
        exc = exc.__cause__ or exc.__context__
    return None


def failure(key: str, exc: BaseException, artifact_dir: str | None = None) -> CandidateResult:
    """The result of a job the service itself failed with ``exc``: "storage" when that
    was a storage fault, else "executor"."""
    if problem := fault(exc):
        return CandidateResult(key, "failed", problem, "storage", artifact_dir=artifact_dir)
    return CandidateResult(key, "failed", f"executor: {exc!r}"[:2000], "executor")


def describe(exc: OSError, where: object, doing: str = "") -> str:
    """``storage: <where>: <strerror> (<ERRNO>, errno <n>)<doing>; ...``."""
    code = exc.errno or 0
    return (
        f"storage: {where}: {exc.strerror or exc} ({errno.errorcode.get(code, '?')}, "
        f"errno {code}){doing}; the service's own storage failed, not the candidate's code"
    )


def probe(directory: Path) -> str | None:
    """Write, sync and remove a small file in ``directory``; the storage fault met, or None."""
    path = directory / f".storage-probe-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, b"\0" * PROBE_BYTES)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        if exc.errno not in STORAGE_ERRNOS:
            return None
        return describe(exc, directory, " when the service wrote a test file there")
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
    return None
