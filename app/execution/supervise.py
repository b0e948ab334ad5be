"""Watch one sandbox process from start to end.

The process starts in a session of its own, at the niceness it was given (set
on the session's scheduler autogroup too: where the kernel groups sessions, a
process's own niceness ranks it only inside its session, so a sandbox in a
session of its own would otherwise take as much CPU as the whole API), in the
kernel's idle scheduling class where asked (any other process that wakes takes
the CPU at once, not after the sandbox's time slice), in a pids cgroup where
one can be made, and with SIGKILL due on the death of the thread that started
it (so a killed service leaves nothing running). Its stdout and stderr are
kept to their last ``LOG_TAIL_BYTES``. It is killed, with its whole tree, when
it passes its wall-clock deadline, stops advancing its heartbeat file, goes over
its disk quota (:mod:`.disk`, measured every ``CHECK_SECONDS``), or the caller
cancels; and also when it ends by itself, to stop helpers it left.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.execution.cgroup import PidsCgroup
from app.execution.disk import CHECK_SECONDS, MAX_CHECK_SHARE, DiskQuota
from app.execution.process import OutputTail, descendants, kill_tree, read_json_file, write_file
from sandbox.spec import HEARTBEAT_FILE

LOG_TAIL_BYTES = 64 * 1024
POLL_SECONDS = 0.5  # how often the caller's should_cancel is asked
PR_SET_PDEATHSIG = 1
_prctl = getattr(ctypes.CDLL(None), "prctl", None)
IDLE_POLICY: int | None = getattr(os, "SCHED_IDLE", None)  # Linux only


@dataclass(frozen=True)
class SandboxCommand:
    """How to start one sandbox: argv, its whole environment, where, at what isolation,
    the cap on its processes (a pids cgroup, where one can be made) and on what it
    leaves on disk (in ``cwd``, its output directory)."""

    argv: list[str]
    env: dict[str, str]
    cwd: Path
    level: str = "rlimits"
    max_processes: int | None = None
    disk_quota: DiskQuota | None = None
    nice: int = 0
    idle_class: bool = False


@dataclass
class ProcessExit:
    """How a supervised process ended; ``reason`` is set when the launcher killed it
    ("deadline", "heartbeat", "disk_quota" or "cancelled"), ``detail`` says more (how
    far over its quota); ``stderr`` is the kept tail."""

    exit_code: int | None
    reason: str | None
    seconds: float
    stderr: str
    detail: str | None = None


def supervise(
    command: SandboxCommand,
    *,
    log_name: str,
    deadline_s: float,
    heartbeat_timeout_s: float | None = None,
    should_cancel: Callable[[], bool] | None = None,
    on_heartbeat: Callable[[int], None] | None = None,
) -> ProcessExit:
    """Run ``command`` to its end (or kill it); keep bounded logs in ``cwd``."""
    tails = {"stdout": OutputTail(LOG_TAIL_BYTES), "stderr": OutputTail(LOG_TAIL_BYTES)}
    beat = _Heartbeat(command.cwd / HEARTBEAT_FILE, on_heartbeat)
    cgroup = PidsCgroup.create(command.max_processes) if command.max_processes else None
    start = time.monotonic()
    proc = _start(command, cgroup)
    disk = _DiskWatch(command.disk_quota, command.cwd, lambda: _members(proc.pid, cgroup))
    selector = selectors.DefaultSelector()
    for name, pipe in (("stdout", proc.stdout), ("stderr", proc.stderr)):
        assert pipe is not None
        os.set_blocking(pipe.fileno(), False)
        selector.register(pipe, selectors.EVENT_READ, tails[name])
    reason = detail = None
    next_poll = start + POLL_SECONDS
    try:
        while proc.poll() is None and reason is None:
            _pump(selector, CHECK_SECONDS)
            now = time.monotonic()
            last_beat = beat.check(now)
            if now - start > deadline_s:
                reason = "deadline"
            elif heartbeat_timeout_s is not None and now - last_beat > heartbeat_timeout_s:
                reason = "heartbeat"
            elif (detail := disk.check(now)) is not None:
                reason = "disk_quota"
            elif should_cancel is not None and now >= next_poll:
                next_poll = now + POLL_SECONDS
                reason = "cancelled" if should_cancel() else None
    finally:
        kill_tree(proc.pid)  # also stops helpers a finished worker left running
        if cgroup is not None:
            cgroup.kill()  # and any that slipped out of the tree
        proc.wait()
        _drain(selector)
        if cgroup is not None:
            cgroup.remove()
    beat.check(time.monotonic())
    if reason is None and (detail := disk.check(None)) is not None:  # what it left at the end
        reason = "disk_quota"
    for name, tail in tails.items():
        with contextlib.suppress(OSError, ValueError):  # the sandbox may have removed its dir
            write_file(command.cwd / f"{log_name}.{name}.log", tail.text())
    seconds = time.monotonic() - start
    return ProcessExit(proc.returncode, reason, seconds, tails["stderr"].text(), detail)


def _start(command: SandboxCommand, cgroup: PidsCgroup | None) -> subprocess.Popen[bytes]:
    join_fd = cgroup.join_fd() if cgroup is not None else None
    try:
        proc = subprocess.Popen(
            command.argv,
            cwd=command.cwd,
            env=command.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=_in_child(join_fd, idle_class=command.idle_class),
        )
    finally:
        if join_fd is not None:
            os.close(join_fd)
    if command.nice:
        set_session_nice(proc.pid, command.nice)
    return proc


def set_session_nice(pid: int, nice: int) -> bool:
    """Give the session led by ``pid`` the niceness ``nice`` on the scheduler's autogroup.

    False where the kernel has no autogroups (niceness then ranks processes
    directly) or refuses; the process's own niceness still applies inside.
    """
    try:
        Path(f"/proc/{pid}/autogroup").write_text(f"{nice}\n")
    except OSError:
        return False
    return True


def _in_child(join_fd: int | None, *, idle_class: bool) -> Callable[[], None]:
    """What the forked child does before exec: join the cgroup, take the idle
    scheduling class (inherited by all it starts), die with its parent. Kept to a few
    system calls (the parent has other threads). A parent that died
    between the fork and the prctl sends no signal, so the child then checks that it
    still has its parent and exits if not (else a worker killed at that instant
    leaves a sandbox training on as an orphan)."""
    parent = os.getpid()

    def setup() -> None:
        if join_fd is not None:
            os.write(join_fd, b"0")
        if idle_class and IDLE_POLICY is not None:
            # a kernel or container that refuses leaves the niceness to do it
            with contextlib.suppress(OSError):
                os.sched_setscheduler(0, IDLE_POLICY, os.sched_param(0))
        if _prctl is not None:
            _prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            if os.getppid() != parent:
                os._exit(1)

    return setup


def _members(pid: int, cgroup: PidsCgroup | None) -> list[int]:
    """The sandbox's processes: its cgroup's, else the tree under ``pid``."""
    return cgroup.members() if cgroup is not None else [pid, *descendants(pid)]


class _DiskWatch:
    """Checks the disk quota every ``CHECK_SECONDS``, less often while measuring is slow
    (a directory of many files), so that it never takes much of the supervisor's time."""

    def __init__(
        self, quota: DiskQuota | None, directory: Path, members: Callable[[], list[int]]
    ) -> None:
        self.quota = quota
        self.directory = directory
        self.members = members
        self.next_check = 0.0

    def check(self, now: float | None) -> str | None:
        """Why the sandbox is over its quota, or None; ``now`` None: a last look, after it
        ended (no processes left to hold deleted files)."""
        if self.quota is None or (now is not None and now < self.next_check):
            return None
        began = time.monotonic()
        over = self.quota.exceeded(self.directory, self.members() if now is not None else ())
        spent = time.monotonic() - began
        self.next_check = began + max(CHECK_SECONDS, spent / MAX_CHECK_SHARE)
        return over


class _Heartbeat:
    """Tracks when the heartbeat file last changed (start counts as a beat)."""

    def __init__(self, path: Path, on_beat: Callable[[int], None] | None) -> None:
        self.path = path
        self.on_beat = on_beat
        self.last_change = time.monotonic()
        self.stamp: tuple[int, int] | None = None

    def check(self, now: float) -> float:
        """Look at the file (never through a link); returns the time of its last change."""
        try:
            st = os.lstat(self.path)
        except OSError:
            return self.last_change
        stamp = (st.st_mtime_ns, st.st_ino)
        if stamp != self.stamp:
            self.stamp, self.last_change = stamp, now
            self._report()
        return self.last_change

    def _report(self) -> None:
        if self.on_beat is None:
            return
        try:
            steps = read_json_file(self.path, 4096).get("steps")
        except (ValueError, AttributeError):
            return
        if isinstance(steps, int) and not isinstance(steps, bool):
            self.on_beat(steps)


def _pump(selector: selectors.BaseSelector, timeout: float) -> None:
    for key, _ in selector.select(timeout):
        try:
            chunk = os.read(key.fd, 65536)
        except BlockingIOError:
            continue
        if chunk:
            key.data.feed(chunk)
        else:
            selector.unregister(key.fileobj)


def _drain(selector: selectors.BaseSelector) -> None:
    """Read what is left; a killed tree closes its pipes, an escaped process may not."""
    give_up = time.monotonic() + 1.0
    while selector.get_map() and time.monotonic() < give_up:
        _pump(selector, 0.1)
    for key in list(selector.get_map().values()):
        selector.unregister(key.fileobj)
        key.fileobj.close()  # type: ignore[union-attr]
    selector.close()
