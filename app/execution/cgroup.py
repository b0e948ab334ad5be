"""A pids cgroup per sandbox, where this machine lets the service make one.

It caps the processes and threads of the whole sandbox (a fork bomb stops at
the cap, whatever uid it runs as: RLIMIT_NPROC never binds root) and lists
every member, however it left its parent, so that all of them can be killed.
Found through ``/proc/self/mountinfo``: a cgroup v1 ``pids`` hierarchy, or
cgroup v2 where the service's own cgroup delegates the pids controller.
Sandboxes go in ``<the service's cgroup>/rewardforge/<name>``.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import time
from functools import lru_cache
from pathlib import Path

_names = itertools.count()
_STALE_S = 60.0  # groups older than this with no member are left over from a dead service


class PidsCgroup:
    """One sandbox's cgroup; the child joins it by writing "0" to :meth:`join_fd`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, max_pids: int) -> PidsCgroup | None:
        """A fresh group capped at ``max_pids`` tasks, or None where cgroups are not writable."""
        parent = pids_root()
        if parent is None:
            return None
        _sweep(parent)
        path = parent / f"{os.getpid()}-{next(_names)}"
        try:
            path.mkdir()
            (path / "pids.max").write_text(str(max_pids))
        except OSError:
            with contextlib.suppress(OSError):
                path.rmdir()
            return None
        return cls(path)

    def join_fd(self) -> int:
        """An fd on cgroup.procs, opened here so the forked child needs only write(2)."""
        return os.open(self.path / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC)

    def members(self) -> list[int]:
        try:
            return [int(p) for p in (self.path / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return []

    def kill(self) -> None:
        """SIGKILL every member until none is left (a forking member is caught in a few rounds)."""
        for _ in range(50):
            members = self.members()
            if not members:
                return
            for pid in members:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.02)

    def remove(self) -> None:
        """Delete the group once its killed members are gone (give up quietly after ~2 s)."""
        for _ in range(100):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                self.kill()
                time.sleep(0.02)


@lru_cache
def pids_root() -> Path | None:
    """<the service's pids cgroup>/rewardforge, made if needed; None where that fails."""
    for base in _candidates():
        parent = base / "rewardforge"
        try:
            parent.mkdir(exist_ok=True)
            probe = parent / f"probe-{os.getpid()}"
            probe.mkdir(exist_ok=True)
            ok = (probe / "pids.max").exists()
            probe.rmdir()
        except OSError:
            continue
        if ok:
            return parent
    return None


def _candidates() -> list[Path]:
    """The service's own cgroup directory in each hierarchy that can hold a pids group."""
    try:
        mounts = Path("/proc/self/mountinfo").read_text().splitlines()
        own = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return []
    found = []
    for line in mounts:
        fields = line.split(" - ")
        if len(fields) != 2:
            continue
        point = line.split()[4]
        fstype, _, options = fields[1].split()[:3]
        if fstype == "cgroup" and "pids" in options.split(","):
            found += [Path(point + p) for p in _own_paths(own, "pids")]
        elif fstype == "cgroup2":
            for path in (Path(point + p) for p in _own_paths(own, "")):
                with contextlib.suppress(OSError):
                    if "pids" in (path / "cgroup.subtree_control").read_text().split():
                        found.append(path)
    return found


def _own_paths(lines: list[str], controller: str) -> list[str]:
    """This process's cgroup path for ``controller`` ("" is the cgroup v2 line)."""
    paths = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == controller or (controller and controller in controllers.split(",")):
            paths.append(path.rstrip("/"))
    return paths


def _sweep(parent: Path) -> None:
    """Remove empty groups a dead service left behind (rmdir refuses a busy one)."""
    now = time.time()
    with contextlib.suppress(OSError):
        for child in parent.iterdir():
            with contextlib.suppress(OSError):
                if child.is_dir() and now - child.stat().st_mtime > _STALE_S:
                    child.rmdir()
