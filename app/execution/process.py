"""Process plumbing for sandboxes: bounded output capture, killing whole trees,
and reading, writing or cleaning files inside a directory the sandbox controls."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import stat
from collections.abc import Collection
from pathlib import Path
from typing import Any

from app.execution.disk import open_up


class OutputTail:
    """Keeps only the last ``limit`` bytes of a stream, however much arrives."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()
        self.dropped = 0

    def feed(self, chunk: bytes) -> None:
        self.data += chunk
        excess = len(self.data) - self.limit
        if excess > 0:
            del self.data[:excess]
            self.dropped += excess

    def text(self) -> str:
        head = f"[... {self.dropped} earlier bytes dropped ...]\n" if self.dropped else ""
        return head + self.data.decode("utf-8", errors="replace")


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (by parent links in /proc; empty elsewhere).

    This finds children that left the process group with setsid() as long as
    they have not been re-parented yet (double-forked daemons need kernel-level
    isolation to be caught).
    """
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def kill_tree(pid: int) -> None:
    """SIGKILL the process group led by ``pid`` and every descendant found in /proc."""
    strays = descendants(pid)
    for kill, target in ((os.killpg, pid), *((os.kill, p) for p in strays)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            kill(target, signal.SIGKILL)


def _open_regular(path: Path, flags: int) -> int:
    """Open without following a symlink the sandbox may have planted there (and
    without blocking on a FIFO planted in place of a file)."""
    fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(f"{path} is not a regular file")
    return fd


def read_json_file(path: Path, max_bytes: int) -> Any:
    """Parse a JSON file the sandbox wrote, refusing links, non-files and big files.

    Non-finite numbers (NaN, Infinity) become None. Raises ValueError on any problem.
    """
    try:
        fd = _open_regular(path, os.O_RDONLY)
    except OSError as exc:
        raise ValueError(f"cannot read {path.name}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError(f"{path.name} is larger than {max_bytes} bytes")
    try:
        return json.loads(data, parse_constant=lambda _: None)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path.name} is not valid JSON: {exc}") from None


def write_file(path: Path, text: str) -> None:
    """Create ``path`` afresh (replacing a file or link the sandbox left there)."""
    try:
        if stat.S_ISDIR(os.lstat(path).st_mode):
            raise ValueError(f"{path} is a directory")
        os.unlink(path)
    except FileNotFoundError:
        pass
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def remove_file(path: Path) -> None:
    """Remove a stale output file, or whatever the sandbox put in its place (a link,
    a directory), if there is one."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except IsADirectoryError:
        shutil.rmtree(path)  # rmtree never follows a link out of the directory


def scrub(directory: Path, max_entries: int = 10_000) -> list[str]:
    """Remove what a sandbox may have planted in its directory to point the service
    (or a later sandbox) elsewhere: symbolic links, FIFOs, sockets, devices, and
    files hard-linked from outside. Returns their paths, relative to ``directory``.

    Raises ValueError when the directory holds more than ``max_entries`` entries.
    """
    removed: list[str] = []
    seen = 0
    stack = [directory]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                seen += 1
                if seen > max_entries:
                    raise ValueError(f"the sandbox left more than {max_entries} files")
                st = entry.stat(follow_symlinks=False)
                if stat.S_ISDIR(st.st_mode):
                    stack.append(Path(entry.path))
                elif not stat.S_ISREG(st.st_mode) or st.st_nlink > 1:
                    os.unlink(entry.path)
                    removed.append(os.path.relpath(entry.path, directory))
    return removed


def empty_directory(directory: Path, keep: Collection[str] = ()) -> None:
    """Remove everything in ``directory`` except the regular files named in ``keep``;
    links are removed, never followed, and directories the sandbox locked are opened."""
    with os.scandir(directory) as entries:
        doomed = [e for e in entries if not (e.name in keep and e.is_file(follow_symlinks=False))]
    for entry in doomed:
        if not entry.is_dir(follow_symlinks=False):
            os.unlink(entry.path)
            continue
        open_up(entry.path)
        for root, dirs, _ in os.walk(entry.path):  # top-down: each opened before it is listed
            for name in dirs:
                open_up(os.path.join(root, name))
        shutil.rmtree(entry.path)
