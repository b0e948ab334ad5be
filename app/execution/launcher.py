"""Start one sandbox process and watch it until it ends.

A sandbox is ``python -I -m sandbox.train SPEC.json`` (or ``sandbox.evaluate``)
in its output directory, with an empty environment (no database URL, no API
keys), in a session of its own. The launcher keeps the last 64 KiB of its
stdout and stderr, and kills the whole process tree when it passes its
wall-clock deadline, stops advancing its heartbeat, or the caller cancels.
Whatever the sandbox wrote is read back as size-capped, validated JSON.

The isolation level in force is ``SandboxCommand.level``; kernel isolation
(bubblewrap, unshare) wraps what :func:`build_command` returns.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from app.execution.process import (
    OutputTail,
    kill_tree,
    read_json_file,
    remove_file,
    write_file,
)
from app.execution.reports import (
    EVAL_MAX_BYTES,
    RESULT_MAX_BYTES,
    Evaluation,
    TrainResult,
    read_report,
)
from sandbox.spec import (
    EVAL_FILE,
    HEARTBEAT_FILE,
    RESULT_FILE,
    STATS_FILE,
    VIDEO_FILE,
    EvalSpec,
    TrainSpec,
)

LOG_TAIL_BYTES = 64 * 1024
ERROR_TAIL_CHARS = 3000
POLL_SECONDS = 0.5
TRAIN_SPEC_FILE = "train_spec.json"
EVAL_SPEC_FILE = "eval_spec.json"

Status = Literal["ok", "invalid", "failed", "cancelled"]


@dataclass(frozen=True)
class SandboxCommand:
    """How to start one sandbox: argv, its whole environment, where, at what isolation."""

    argv: list[str]
    env: dict[str, str]
    cwd: Path
    level: str = "process"


@dataclass
class LaunchOutcome:
    """How one sandbox process ended.

    ``error_kind`` is the worker's own ("smoke", "reward", "training", or for the
    evaluator "evaluation") or the launcher's: "deadline", "heartbeat",
    "cancelled", "crashed" (exited without a valid result; ``error`` quotes stderr).
    ``report`` is the validated result.json / evaluation.json as a dict.
    """

    status: Status
    error: str | None
    error_kind: str | None
    exit_code: int | None
    seconds: float
    sandbox_level: str
    report: dict[str, Any] = field(default_factory=dict)


@dataclass
class ProcessExit:
    """How a supervised process ended; ``reason`` is set when the launcher killed it
    ("deadline", "heartbeat" or "cancelled"); ``stderr`` is the kept tail."""

    exit_code: int | None
    reason: str | None
    seconds: float
    stderr: str


def build_command(module: str, spec_path: Path, output_dir: Path) -> SandboxCommand:
    """The plain-process sandbox: isolated interpreter mode and an empty environment."""
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(output_dir),
        "MUJOCO_GL": "egl",
        "SDL_VIDEODRIVER": "dummy",
        "PYTHONHASHSEED": "0",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    argv = [sys.executable, "-I", "-m", module, str(spec_path)]
    return SandboxCommand(argv=argv, env=env, cwd=output_dir, level="process")


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
    start = time.monotonic()
    proc = subprocess.Popen(
        command.argv,
        cwd=command.cwd,
        env=command.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    selector = selectors.DefaultSelector()
    for name, pipe in (("stdout", proc.stdout), ("stderr", proc.stderr)):
        assert pipe is not None
        os.set_blocking(pipe.fileno(), False)
        selector.register(pipe, selectors.EVENT_READ, tails[name])
    reason = None
    try:
        while proc.poll() is None:
            _pump(selector, POLL_SECONDS)
            now = time.monotonic()
            last_beat = beat.check(now)
            if now - start > deadline_s:
                reason = "deadline"
            elif heartbeat_timeout_s is not None and now - last_beat > heartbeat_timeout_s:
                reason = "heartbeat"
            elif should_cancel is not None and should_cancel():
                reason = "cancelled"
            if reason:
                break
    finally:
        kill_tree(proc.pid)  # also stops helpers a finished worker left running
        proc.wait()
        _drain(selector)
    beat.check(time.monotonic())
    for name, tail in tails.items():
        with contextlib.suppress(OSError, ValueError):  # the sandbox may have removed its dir
            write_file(command.cwd / f"{log_name}.{name}.log", tail.text())
    return ProcessExit(proc.returncode, reason, time.monotonic() - start, tails["stderr"].text())


class _Heartbeat:
    """Tracks when the heartbeat file last changed (start counts as a beat)."""

    def __init__(self, path: Path, on_beat: Callable[[int], None] | None) -> None:
        self.path = path
        self.on_beat = on_beat
        self.last_change = time.monotonic()
        self.stamp: tuple[int, int] | None = None

    def check(self, now: float) -> float:
        """Look at the file; returns the time of its last change."""
        try:
            st = os.stat(self.path)
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


def _killed(end: ProcessExit, level: str) -> LaunchOutcome:
    assert end.reason is not None
    messages = {
        "deadline": f"killed after {end.seconds:.0f} s: past the wall-clock deadline",
        "heartbeat": "killed: no progress reported (heartbeat stopped); "
        "the reward may be stuck in a loop or far too slow",
        "cancelled": "cancelled",
    }
    status: Status = "cancelled" if end.reason == "cancelled" else "failed"
    return LaunchOutcome(
        status, messages[end.reason], end.reason, end.exit_code, end.seconds, level
    )


def _crashed(end: ProcessExit, level: str, problem: str) -> LaunchOutcome:
    error = f"{problem} (exit code {end.exit_code})\n{end.stderr[-ERROR_TAIL_CHARS:]}".rstrip()
    return LaunchOutcome("failed", error, "crashed", end.exit_code, end.seconds, level)


def launch_training(
    spec: TrainSpec,
    *,
    deadline_s: float,
    heartbeat_timeout_s: float | None,
    should_cancel: Callable[[], bool] | None = None,
    on_heartbeat: Callable[[int], None] | None = None,
) -> LaunchOutcome:
    """Train one candidate in a sandbox; ``report`` is the validated result.json."""
    out = Path(spec.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    for stale in (RESULT_FILE, HEARTBEAT_FILE, STATS_FILE):
        remove_file(out / stale)
    write_file(out / TRAIN_SPEC_FILE, spec.to_json())
    command = build_command("sandbox.train", out / TRAIN_SPEC_FILE, out)
    end = supervise(
        command,
        log_name="train",
        deadline_s=deadline_s,
        heartbeat_timeout_s=heartbeat_timeout_s,
        should_cancel=should_cancel,
        on_heartbeat=on_heartbeat,
    )
    if end.reason:
        return _killed(end, command.level)
    try:
        result = read_report(out / RESULT_FILE, TrainResult, RESULT_MAX_BYTES)
    except ValueError as exc:
        return _crashed(end, command.level, f"training ended without a result: {exc}")
    return LaunchOutcome(
        result.status,
        result.error,
        result.error_kind,
        end.exit_code,
        end.seconds,
        command.level,
        result.model_dump(),
    )


def launch_evaluation(
    spec: EvalSpec,
    *,
    deadline_s: float,
    should_cancel: Callable[[], bool] | None = None,
) -> LaunchOutcome:
    """Evaluate a policy file with the trusted evaluator; ``report`` is evaluation.json."""
    out = Path(spec.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    for stale in (EVAL_FILE, VIDEO_FILE):
        remove_file(out / stale)
    write_file(out / EVAL_SPEC_FILE, spec.to_json())
    command = build_command("sandbox.evaluate", out / EVAL_SPEC_FILE, out)
    end = supervise(
        command, log_name="evaluate", deadline_s=deadline_s, should_cancel=should_cancel
    )
    if end.reason:
        return _killed(end, command.level)
    if end.exit_code != 0:
        return _crashed(end, command.level, "evaluation failed")
    try:
        evaluation = read_report(out / EVAL_FILE, Evaluation, EVAL_MAX_BYTES)
    except ValueError as exc:
        return _crashed(end, command.level, f"evaluation left no valid result: {exc}")
    return LaunchOutcome(
        "ok", None, None, end.exit_code, end.seconds, command.level, evaluation.model_dump()
    )
