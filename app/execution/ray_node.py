"""What one Ray task does on its node: run a candidate in a scratch directory and
send its files back.

Each attempt gets a fresh scratch directory under the node's temp dir, so a
retried attempt never shares files with the one before it. A worker killed
mid-candidate cannot kill its sandbox (SIGKILL runs no cleanup), so an attempt
first kills the sandboxes an earlier attempt of the same candidate left running
on this node. The sandboxes themselves are started by the same launcher as
everywhere else, through :func:`app.execution.candidate.run_candidate`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from app.execution.bundle import Bundle, list_files, pack, unpack
from app.execution.candidate import run_candidate
from app.execution.executor import CandidateJob, CandidateResult, EventCallback
from app.execution.process import kill_tree
from sandbox.spec import (
    CHECKPOINT_DIR,
    EPISODES_FILE,
    EVAL_FILE,
    POLICY_FILE,
    RESULT_FILE,
    SCREEN_FILE,
    STATS_FILE,
    TENSORBOARD_DIR,
    VIDEO_FILE,
)

SCRATCH_ROOT = Path(tempfile.gettempdir()) / "rewardforge-ray"
RESUME_DIR = "resume"
INPUTS_DIR = "inputs"  # read-only inputs of the sandbox: the screening archive
# Sent back in this order, so the budget goes to what matters most.
FIRST_FILES = (RESULT_FILE, STATS_FILE, EVAL_FILE, POLICY_FILE, SCREEN_FILE)


@dataclass
class NodeOutcome:
    """A task's answer: the result (paths on the node), its files, what did not fit."""

    result: CandidateResult
    files: Bundle = field(default_factory=dict)
    left_out: list[str] = field(default_factory=list)
    node: str = ""


def run_on_node(
    job: CandidateJob,
    resume_files: Bundle | None,
    *,
    deadline_s: float,
    heartbeat_timeout_s: float | None,
    max_bytes: int,
    emit: EventCallback,
    should_cancel: Callable[[], bool] = lambda: False,
    screen_archive: bytes | None = None,
) -> NodeOutcome:
    """Train and evaluate ``job`` here; ``resume_files`` is its ``resume_from`` checkpoint,
    ``screen_archive`` the file of its ``screen_archive``."""
    scratch = new_attempt_dir(job.key)
    try:
        local = relocate(job, scratch, resume_files, screen_archive)
        result = run_candidate(
            local,
            deadline_s=deadline_s,
            heartbeat_timeout_s=heartbeat_timeout_s,
            should_cancel=should_cancel,
            emit=emit,
        )
        files, left_out = pack(scratch, artifact_names(scratch), max_bytes)
        return NodeOutcome(result, files, left_out, socket.gethostname())
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        with contextlib.suppress(OSError):  # a newer attempt may have started beside it
            scratch.parent.rmdir()


def new_attempt_dir(key: str) -> Path:
    """A fresh directory for this attempt; earlier attempts' sandboxes and files go."""
    candidate_dir = SCRATCH_ROOT / key
    for pid in processes_working_in(candidate_dir):
        kill_tree(pid)
    shutil.rmtree(candidate_dir, ignore_errors=True)
    scratch = candidate_dir / uuid.uuid4().hex[:12]
    scratch.mkdir(parents=True)
    return scratch


def processes_working_in(directory: Path) -> list[int]:
    """Pids of this user's processes whose working directory is inside ``directory``."""
    found = []
    prefix = str(directory) + os.sep
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:  # gone, or another user's
            continue
        if cwd.startswith(prefix):
            found.append(int(entry))
    return found


def relocate(
    job: CandidateJob,
    scratch: Path,
    resume_files: Bundle | None,
    screen_archive: bytes | None = None,
) -> CandidateJob:
    """``job`` with every path moved into ``scratch`` (and its checkpoint and screening
    archive written there; without the archive's bytes it is not screened)."""
    resume_from = None
    if resume_files is not None:
        unpack(resume_files, scratch / RESUME_DIR)
        resume_from = str(scratch / RESUME_DIR)
    archive = None
    if screen_archive is not None and job.train.screen_archive:
        name = Path(job.train.screen_archive).name
        unpack({name: screen_archive}, scratch / INPUTS_DIR)
        archive = str(scratch / INPUTS_DIR / name)
    train = replace(
        job.train,
        output_dir=str(scratch),
        resume_from=resume_from,
        screen_archive=archive,
        screen_min_correlation=job.train.screen_min_correlation if archive else None,
    )
    evaluation = None
    if job.eval is not None:
        evaluation = replace(
            job.eval, output_dir=str(scratch), policy_path=str(scratch / POLICY_FILE)
        )
    return replace(job, train=train, eval=evaluation)


def artifact_names(scratch: Path) -> list[str]:
    """What to send back: results and weights, logs, the checkpoint, the video, then
    TensorBoard's event files."""
    top = list_files(scratch)
    logs = [name for name in top if name.endswith(".log")]
    checkpoint = [f"{CHECKPOINT_DIR}/{name}" for name in list_files(scratch / CHECKPOINT_DIR)]
    video = [VIDEO_FILE] if VIDEO_FILE in top else []
    episodes = [EPISODES_FILE] if EPISODES_FILE in top else []
    first = [name for name in FIRST_FILES if name in top]
    return first + logs + checkpoint + video + episodes + _tensorboard_names(scratch)


def _tensorboard_names(scratch: Path) -> list[str]:
    """SB3's event files, ``tensorboard/<log run>/<file>`` (links are not followed)."""
    root = scratch / TENSORBOARD_DIR
    try:
        runs = sorted(e.name for e in os.scandir(root) if e.is_dir(follow_symlinks=False))
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [f"{TENSORBOARD_DIR}/{run}/{name}" for run in runs for name in list_files(root / run)]
