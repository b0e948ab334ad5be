"""The disk quota of one sandbox: the bytes it may leave on the service's disk.

RLIMIT_FSIZE caps one file; nothing in the kernel caps the total for root and
unprivileged services alike at every isolation level (a loop-mounted
filesystem needs root; a size-limited tmpfs holds the bytes in RAM and is not
there at the rlimits level). So the supervisor measures, several times a second:

- every file and directory under the sandbox's output directory, by the blocks
  allocated to it (never following a link; a directory the sandbox made
  unreadable is opened up first, and one that stays unreadable counts as over);
- files the sandbox deleted but still holds open or mapped, found through
  ``/proc/PID/fd`` and ``/proc/PID/maps`` of its processes (an unlinked file
  keeps its blocks until closed: ``tempfile.TemporaryFile`` is one);
- the number of entries, so that empty files cannot exhaust the inodes.

Past the quota the supervisor kills the tree (:mod:`.supervise`) and the
launcher empties the output directory. What a writer can add between two
checks is what it writes in one interval (``CHECK_SECONDS``, stretched while
a walk is slow), each file still capped by RLIMIT_FSIZE; pages that fast are
mostly still in the page cache when the files are deleted. The private ``/tmp``
and ``/dev/shm`` of the kernel levels are tmpfs, in RAM and capped in size
(:mod:`.isolation`), not on disk. At the rlimits level ``TMPDIR`` points into
the output directory, so temporary files count too (code that names ``/tmp``
itself reaches the host's: that level isolates no files).
"""

from __future__ import annotations

import contextlib
import math
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

MiB = 1024 * 1024
MAX_ENTRIES = 10_000  # files and directories in one output directory (see process.scrub)
CHECK_SECONDS = 0.1  # how often the supervisor measures
MAX_CHECK_SHARE = 0.2  # of the supervisor's time a slow walk may take (checks thin out)


@dataclass(frozen=True)
class Usage:
    """What a sandbox holds on disk: bytes in its directory, bytes in deleted files it
    keeps open or mapped, and the entries of its directory."""

    bytes: int
    hidden_bytes: int
    entries: int

    @property
    def total(self) -> int:
        return self.bytes + self.hidden_bytes


@dataclass(frozen=True)
class DiskQuota:
    """At most ``max_bytes`` and ``max_entries`` per sandbox."""

    max_bytes: int
    max_entries: int = MAX_ENTRIES

    def exceeded(self, directory: Path, pids: Iterable[int] = ()) -> str | None:
        """Why the sandbox in ``directory`` (processes ``pids``) is over its quota, or None."""
        try:
            used = usage(directory, pids, self.max_entries)
        except OSError as exc:
            return f"disk quota: cannot measure what the sandbox wrote ({exc})"
        if used.entries > self.max_entries:
            return f"disk quota: the sandbox made more than {self.max_entries} files"
        if used.total <= self.max_bytes:
            return None
        held = ""
        if used.hidden_bytes:
            held = f", {used.hidden_bytes / MiB:.0f} MB of it in deleted files it still held"
        return (
            f"disk quota: the sandbox wrote more than {self.max_bytes / MiB:.0f} MB "
            f"({math.ceil(used.total / MiB)} MB found{held})"
        )


def usage(directory: Path, pids: Iterable[int], max_entries: int = MAX_ENTRIES) -> Usage:
    """Measure ``directory`` (stopping past ``max_entries``) and the deleted files ``pids``
    hold. Raises OSError when a directory cannot be read even after opening it up."""
    size, entries = _walk(directory, max_entries)
    return Usage(size, _deleted_but_held(pids, os.stat(directory).st_dev), entries)


def _walk(directory: Path, max_entries: int) -> tuple[int, int]:
    total, entries = 0, 0
    seen: set[tuple[int, int]] = set()
    stack = [str(directory)]
    while stack:
        for entry in _entries(stack.pop()):
            entries += 1
            if entries > max_entries:
                return total, entries
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:  # removed while we looked
                continue
            if st.st_nlink > 1 and not stat.S_ISDIR(st.st_mode):
                if (st.st_dev, st.st_ino) in seen:
                    continue
                seen.add((st.st_dev, st.st_ino))
            total += st.st_blocks * 512
            if stat.S_ISDIR(st.st_mode):
                stack.append(entry.path)
    return total, entries


def _entries(path: str) -> Iterator[os.DirEntry[str]]:
    """The entries of ``path``; one the sandbox locked (chmod 000) is opened up first."""
    try:
        listing = os.scandir(path)
    except FileNotFoundError:  # removed while we looked
        return
    except PermissionError:
        open_up(path)
        listing = os.scandir(path)
    with listing:
        yield from listing


def open_up(path: str | Path) -> None:
    """Let the service (the owner) read and enter a directory the sandbox locked."""
    with contextlib.suppress(OSError):
        os.chmod(path, 0o700, follow_symlinks=False)


def _deleted_but_held(pids: Iterable[int], device: int) -> int:
    """Blocks of the deleted files on ``device`` that ``pids`` keep open, plus the mapped
    length of deleted files they keep only mapped (the blocks of those are out of reach
    of an unprivileged service)."""
    opened: dict[int, int] = {}
    mapped: dict[int, int] = {}
    for pid in pids:
        for st in _open_files(pid):
            if stat.S_ISREG(st.st_mode) and st.st_nlink == 0 and st.st_dev == device:
                opened[st.st_ino] = st.st_blocks * 512
        for inode, length in _deleted_mappings(pid):
            mapped[inode] = mapped.get(inode, 0) + length
    only_mapped = sum(n for inode, n in mapped.items() if inode not in opened)
    return sum(opened.values()) + only_mapped


def _open_files(pid: int) -> list[os.stat_result]:
    found: list[os.stat_result] = []
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:  # gone, or not ours to look at
        return found
    for fd in fds:
        with contextlib.suppress(OSError):
            found.append(os.stat(f"/proc/{pid}/fd/{fd}"))
    return found


_IN_MEMORY = (b"/memfd:", b"/SYSV", b"/dev/shm/")


def _deleted_mappings(pid: int) -> list[tuple[int, int]]:
    """``(inode, mapped length)`` of each mapping of a deleted file that lived on a disk."""
    try:
        with open(f"/proc/{pid}/maps", "rb") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        if not line.endswith(b" (deleted)"):
            continue
        fields = line.split(maxsplit=5)
        if len(fields) < 6 or fields[4] == b"0" or fields[5].startswith(_IN_MEMORY):
            continue
        start, end = (int(x, 16) for x in fields[0].split(b"-"))
        found.append((int(fields[4]), end - start))
    return found
