"""Start one sandbox process and watch it until it ends.

A sandbox is ``python -I -m sandbox.confine CAPS -- sandbox.train SPEC.json``
(or ``sandbox.evaluate``) run in its output directory, with an empty
environment (no database URL, no API keys), in a session of its own, inside
the strongest kernel isolation this machine offers (:mod:`.isolation`) and a
pids cgroup where one can be made (:mod:`.cgroup`); it gets SIGKILL if the
launcher dies. The launcher keeps the last 64 KiB of its stdout and stderr,
and kills the whole process tree when it passes its wall-clock deadline,
stops advancing its heartbeat, goes over its disk quota (:mod:`.disk`; then
what it wrote is deleted), or the caller cancels. Then it removes links
and special files the sandbox planted, and reads back what it wrote as
size-capped, validated JSON. The level in force is ``LaunchOutcome.sandbox_level``.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from app.config import Settings, get_settings
from app.execution import isolation
from app.execution.disk import DiskQuota
from app.execution.process import empty_directory, remove_file, scrub, write_file
from app.execution.reports import (
    EVAL_MAX_BYTES,
    RESULT_MAX_BYTES,
    STATS_MAX_BYTES,
    Evaluation,
    TrainResult,
    TrainStats,
    read_report,
)
from app.execution.supervise import LOG_TAIL_BYTES, ProcessExit, SandboxCommand, supervise
from app.execution.warp_cache import seed_cache
from sandbox.spec import (
    EPISODES_FILE,
    EVAL_FILE,
    HEARTBEAT_FILE,
    RESULT_FILE,
    SCREEN_FILE,
    STATS_FILE,
    VIDEO_FILE,
    EvalSpec,
    TrainSpec,
)

__all__ = ["LOG_TAIL_BYTES", "SandboxCommand", "SandboxPolicy", "build_command", "supervise"]

ERROR_TAIL_CHARS = 3000
TRAIN_SPEC_FILE = "train_spec.json"
EVAL_SPEC_FILE = "eval_spec.json"
WARP_CACHE_DIR = "warp-cache"
LOG_FILES = [
    f"{job}.{stream}.log" for job in ("train", "evaluate") for stream in ("stdout", "stderr")
]

Status = Literal["ok", "invalid", "failed", "cancelled", "screened"]
MiB = 1024 * 1024
OPEN_FILES = 1024
CPU_SLACK_S = 60  # CPU seconds beyond the wall-clock deadline before RLIMIT_CPU strikes
NICE = shutil.which("nice") or "/usr/bin/nice"


@dataclass(frozen=True)
class SandboxPolicy:
    """How tightly sandboxes are held: the isolation level asked for ("auto" picks the
    strongest available), the caps, and the paths of the service they must not see."""

    level: str = "auto"
    memory_bytes: int = 6144 * MiB
    file_size_bytes: int = 2048 * MiB
    disk_bytes: int = 8192 * MiB
    max_processes: int = 512
    open_files: int = OPEN_FILES
    hidden: tuple[Path, ...] = ()
    nice: int = 19  # CPU niceness: the API and the workers' own threads come first
    idle_class: bool = True  # SCHED_IDLE: any other process that wakes preempts training

    @classmethod
    def from_settings(cls, settings: Settings) -> SandboxPolicy:
        """The policy of ``settings``; hidden: data dir, SQLite file, .env, home."""
        hidden = [settings.data_dir, Path(".env"), Path.home()]
        url = settings.resolved_database_url
        if url.startswith("sqlite:///"):
            hidden.append(Path(url.removeprefix("sqlite:///")))
        return cls(
            level=settings.sandbox_level,
            memory_bytes=settings.sandbox_memory_mb * MiB,
            file_size_bytes=settings.sandbox_file_size_mb * MiB,
            disk_bytes=settings.sandbox_disk_mb * MiB,
            max_processes=settings.sandbox_max_processes,
            hidden=tuple(Path(os.path.abspath(p)) for p in hidden),
            nice=settings.sandbox_nice,
            idle_class=settings.sandbox_idle_class,
        )


@dataclass
class LaunchOutcome:
    """How one sandbox process ended.

    ``error_kind`` is the worker's own ("smoke", "reward", "training", or for the
    evaluator "evaluation") or the launcher's: "deadline", "heartbeat",
    "disk_quota" (it wrote more than its quota; what it wrote is deleted),
    "cancelled", "crashed" (exited without a valid result; ``error`` quotes stderr),
    "refused" (it left links, special files or oversized or malformed reports).
    ``report`` is the validated result.json / evaluation.json as a dict.
    """

    status: Status
    error: str | None
    error_kind: str | None
    exit_code: int | None
    seconds: float
    sandbox_level: str
    report: dict[str, Any] = field(default_factory=dict)


def build_command(
    module: str,
    spec_path: Path,
    output_dir: Path,
    *,
    policy: SandboxPolicy | None = None,
    cpu_seconds: float | None = None,
    read_only: Iterable[Path] = (),
    gpu: bool = False,
) -> SandboxCommand:
    """The sandbox for ``module``: an empty environment, the caps of ``policy`` (by
    default the settings'), at its isolation level. ``read_only`` paths are visible
    read-only (a checkpoint to resume, the policy file to evaluate). A ``gpu`` job
    has no address-space cap: CUDA reserves far more address space than it uses.
    Temporary files go to ``output_dir`` at the rlimits level (they count against the
    disk quota there; the kernel levels have a private /tmp in memory)."""
    policy = policy or SandboxPolicy.from_settings(get_settings())
    level = isolation.resolve(policy.level)
    env = {
        "PATH": os.pathsep.join(
            [str(Path(sys.prefix) / "bin"), "/usr/local/bin", "/usr/bin", "/bin"]
        ),
        "HOME": str(output_dir),
        "PWD": str(output_dir),
        # MuJoCo Warp compiles its kernels into this cache: the candidate's own, never one
        # shared with other sandboxes, whose kernels it could otherwise replace.
        "WARP_CACHE_PATH": str(output_dir / WARP_CACHE_DIR),
        "MUJOCO_GL": "egl",
        "SDL_VIDEODRIVER": "dummy",
        "PYTHONHASHSEED": "0",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    if level == "rlimits":
        env["TMPDIR"] = str(output_dir)
    caps = {
        "--file-size": min(policy.file_size_bytes, policy.disk_bytes),
        "--open-files": policy.open_files,
        "--processes": policy.max_processes,
    }
    if not gpu:
        caps["--memory"] = policy.memory_bytes
    if cpu_seconds is not None:
        caps["--cpu"] = int(cpu_seconds) + CPU_SLACK_S
    inner = [isolation.PYTHON, "-I", "-m", "sandbox.confine"]
    inner += [arg for name, value in caps.items() for arg in (name, str(value))]
    inner += ["--", module, str(spec_path)]
    argv = isolation.wrap(
        level,
        inner,
        env,
        output_dir,
        read_only=read_only,
        hidden=policy.hidden,
        devices=isolation.gpu_devices() if gpu else (),
    )
    if policy.nice:  # training yields the CPU to requests; everything it starts inherits this
        argv = [NICE, "-n", str(policy.nice), *argv]
    quota = DiskQuota(policy.disk_bytes)
    return SandboxCommand(
        argv,
        env,
        output_dir,
        level,
        policy.max_processes,
        quota,
        nice=policy.nice,
        idle_class=policy.idle_class,
    )


def _killed(end: ProcessExit, level: str, out: Path) -> LaunchOutcome:
    assert end.reason is not None
    if end.reason == "disk_quota":  # free the disk now; keep only the specs and logs
        empty_directory(out, keep=[TRAIN_SPEC_FILE, EVAL_SPEC_FILE, *LOG_FILES])
    messages = {
        "deadline": f"killed after {end.seconds:.0f} s: past the wall-clock deadline",
        "heartbeat": "killed: no progress reported (heartbeat stopped); "
        "the reward may be stuck in a loop or far too slow",
        "disk_quota": f"{end.detail}; killed, and what it wrote was deleted "
        "(REWARDFORGE_SANDBOX_DISK_MB sets the quota)",
        "cancelled": "cancelled",
    }
    status: Status = "cancelled" if end.reason == "cancelled" else "failed"
    return LaunchOutcome(
        status, messages[end.reason], end.reason, end.exit_code, end.seconds, level
    )


def _crashed(end: ProcessExit, level: str, problem: str) -> LaunchOutcome:
    error = f"{problem} (exit code {end.exit_code})\n{end.stderr[-ERROR_TAIL_CHARS:]}".rstrip()
    return LaunchOutcome("failed", error, "crashed", end.exit_code, end.seconds, level)


def _on_gpu(device: str) -> bool:
    """Whether the sandbox gets the GPU nodes: its device may be CUDA and there is a GPU.
    The batched simulator runs on the policy's device, so this holds for it too."""
    return device != "cpu" and bool(isolation.gpu_devices())


def _refused(end: ProcessExit, level: str, problem: str) -> LaunchOutcome:
    return LaunchOutcome("failed", problem, "refused", end.exit_code, end.seconds, level)


def _planted(out: Path) -> str | None:
    """Clean the output directory of what a sandbox may have planted; what was wrong."""
    try:
        removed = scrub(out)
    except (OSError, ValueError) as exc:
        return f"output refused: {exc}"
    if removed:
        names = ", ".join(sorted(removed)[:10])
        return f"output refused: the sandbox planted links or special files (removed): {names}"
    return None


def _stats_problem(out: Path) -> str | None:
    """Why stats.json, if there is one, cannot be used (an honest worker keeps it small)."""
    if not os.path.lexists(out / STATS_FILE):
        return None
    try:
        read_report(out / STATS_FILE, TrainStats, STATS_MAX_BYTES)
    except ValueError as exc:
        return f"statistics refused: {exc}"
    return None


def launch_training(
    spec: TrainSpec,
    *,
    deadline_s: float,
    heartbeat_timeout_s: float | None,
    should_cancel: Callable[[], bool] | None = None,
    on_heartbeat: Callable[[int], None] | None = None,
    policy: SandboxPolicy | None = None,
) -> LaunchOutcome:
    """Train one candidate in a sandbox; ``report`` is the validated result.json.

    ``policy`` defaults to the settings' (:meth:`SandboxPolicy.from_settings`).
    """
    out = Path(spec.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    for stale in (RESULT_FILE, HEARTBEAT_FILE, STATS_FILE, SCREEN_FILE):
        remove_file(out / stale)
    write_file(out / TRAIN_SPEC_FILE, spec.to_json())
    gpu = _on_gpu(spec.device)
    seed_cache(spec, out / WARP_CACHE_DIR, gpu=gpu)
    # Read-only inputs: the checkpoint it resumes from, the archive it is screened on.
    inputs = [Path(path) for path in (spec.resume_from, spec.screen_archive) if path]
    command = build_command(
        "sandbox.train",
        out / TRAIN_SPEC_FILE,
        out,
        policy=policy,
        cpu_seconds=deadline_s,
        read_only=inputs,
        gpu=gpu,
    )
    end = supervise(
        command,
        log_name="train",
        deadline_s=deadline_s,
        heartbeat_timeout_s=heartbeat_timeout_s,
        should_cancel=should_cancel,
        on_heartbeat=on_heartbeat,
    )
    planted = _planted(out)
    if end.reason:
        return _killed(end, command.level, out)
    if planted:
        return _refused(end, command.level, planted)
    try:
        result = read_report(out / RESULT_FILE, TrainResult, RESULT_MAX_BYTES)
    except ValueError as exc:
        return _crashed(end, command.level, f"training ended without a result: {exc}")
    problem = _stats_problem(out)
    if result.status == "ok" and problem:
        return _refused(end, command.level, problem)
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
    policy: SandboxPolicy | None = None,
) -> LaunchOutcome:
    """Evaluate a policy file with the trusted evaluator; ``report`` is evaluation.json.

    The evaluator runs at the same isolation as training, with the policy file
    read-only; links a training sandbox planted are removed before it starts.
    """
    out = Path(spec.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    for stale in (EVAL_FILE, VIDEO_FILE, EPISODES_FILE):
        remove_file(out / stale)
    planted = _planted(out)
    write_file(out / EVAL_SPEC_FILE, spec.to_json())
    command = build_command(
        "sandbox.evaluate",
        out / EVAL_SPEC_FILE,
        out,
        policy=policy,
        cpu_seconds=deadline_s,
        read_only=[Path(spec.policy_path)],
        gpu=_on_gpu(spec.device),
    )
    if planted:
        return LaunchOutcome("failed", planted, "refused", None, 0.0, command.level)
    end = supervise(
        command, log_name="evaluate", deadline_s=deadline_s, should_cancel=should_cancel
    )
    planted = _planted(out)
    if end.reason:
        return _killed(end, command.level, out)
    if end.exit_code != 0:
        return _crashed(end, command.level, "evaluation failed")
    if planted:
        return _refused(end, command.level, planted)
    try:
        evaluation = read_report(out / EVAL_FILE, Evaluation, EVAL_MAX_BYTES)
    except ValueError as exc:
        return _crashed(end, command.level, f"evaluation left no valid result: {exc}")
    return LaunchOutcome(
        "ok", None, None, end.exit_code, end.seconds, command.level, evaluation.model_dump()
    )
