"""The Ray executor: each candidate job is a Ray task on some node of a cluster.

A task (``num_cpus`` per candidate, and the configured GPU fraction for device
cuda, or auto on a cluster with GPUs, whichever simulator the candidate trains
on: MuJoCo Warp's batched worlds run where the policy's device is) runs
:func:`app.execution.ray_node.run_on_node`: the same launcher and
sandboxes as the local executor, in a scratch directory on that node. The task
returns the result with the candidate's files as bytes, and this side writes
them into the job's output directories, so no node needs the service's disk; a
``resume_from`` checkpoint travels the other way. When a worker process or a
whole node dies mid-candidate, Ray runs the task again (``max_retries``), from
the start, in a fresh scratch directory. A small actor carries progress events
from the tasks to this side, and the cancel flag from this side to the tasks.
A fault of the storage on either side (a node's scratch directory, this side's
output directories) comes back as a "storage" result (:mod:`.storage`).

Cancelling raises that flag: a running task's launcher kills its sandbox tree
(as the local executor's does) and a queued task returns as soon as it starts.
Tasks still running after a grace period have their workers force-killed.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayError, RayTaskError, TaskCancelledError

from app.config import Settings
from app.execution.bundle import Bundle, list_files, pack, unpack
from app.execution.executor import CandidateJob, CandidateResult, EventCallback, Executor
from app.execution.ray_node import NodeOutcome, run_on_node
from app.execution.storage import failure
from sandbox.spec import (
    CHECKPOINT_DIR,
    EPISODES_FILE,
    EVAL_FILE,
    HEARTBEAT_FILE,
    POLICY_FILE,
    RESULT_FILE,
    SCREEN_FILE,
    STATS_FILE,
    VIDEO_FILE,
)

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5
CANCEL_GRACE_S = 10.0
_EVAL_FILES = (EVAL_FILE, VIDEO_FILE, EPISODES_FILE, "evaluate.stdout.log", "evaluate.stderr.log")
_TRAIN_FILES = (RESULT_FILE, STATS_FILE, POLICY_FILE, HEARTBEAT_FILE, SCREEN_FILE)
_TRAIN_LOGS = ("train.stdout.log", "train.stderr.log")


@ray.remote(num_cpus=0)
class _Channel:
    """Progress events from tasks, held until the driver drains them; the cancel flag."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.cancel_requested = False

    def put(self, kind: str, data: dict[str, Any]) -> None:
        self.events.append((kind, data))

    def drain(self) -> list[tuple[str, dict[str, Any]]]:
        events, self.events = self.events, []
        return events

    def cancel(self) -> None:
        self.cancel_requested = True

    def cancelled(self) -> bool:
        return self.cancel_requested


def _candidate_task(
    job: CandidateJob,
    resume_files: Bundle | None,
    channel: Any,
    deadline_s: float,
    heartbeat_timeout_s: float | None,
    max_bytes: int,
    screen_archive: bytes | None = None,
) -> NodeOutcome:
    # Waiting for each put keeps every event ahead of the result it precedes.
    return run_on_node(
        job,
        resume_files,
        deadline_s=deadline_s,
        heartbeat_timeout_s=heartbeat_timeout_s,
        max_bytes=max_bytes,
        emit=lambda kind, data: ray.get(channel.put.remote(kind, data)),
        should_cancel=lambda: ray.get(channel.cancelled.remote()),
        screen_archive=screen_archive,
    )


_remote_candidate = ray.remote(_candidate_task)


class RayExecutor(Executor):
    """Run candidates as Ray tasks on the cluster at ``address`` (or a local one)."""

    def __init__(
        self,
        *,
        address: str | None = None,
        num_cpus: int | None = None,
        cpus_per_candidate: float = 1.0,
        gpus_per_candidate: float = 0.0,
        max_retries: int = 3,
        deadline_s: float = 3600.0,
        heartbeat_timeout_s: float | None = 120.0,
        artifact_max_bytes: int = 256 * 2**20,
    ) -> None:
        if cpus_per_candidate <= 0 or gpus_per_candidate < 0:
            raise ValueError("a candidate needs a positive CPU share and a GPU share >= 0")
        if max_retries < 0:
            raise ValueError(f"max_retries must be at least 0, got {max_retries}")
        self.address = address
        self.num_cpus = num_cpus
        self.cpus_per_candidate = cpus_per_candidate
        self.gpus_per_candidate = gpus_per_candidate
        self.max_retries = max_retries
        self.deadline_s = deadline_s
        self.heartbeat_timeout_s = heartbeat_timeout_s
        self.artifact_max_bytes = artifact_max_bytes
        self._started_ray = False
        self._cluster_gpus: float | None = None  # read once, on the first GPU question

    @classmethod
    def from_settings(cls, settings: Settings) -> RayExecutor:
        return cls(
            address=settings.ray_address,
            num_cpus=settings.workers,
            cpus_per_candidate=settings.ray_cpus_per_candidate,
            gpus_per_candidate=settings.ray_gpus_per_candidate,
            max_retries=settings.ray_max_retries,
            deadline_s=settings.candidate_deadline_s,
            heartbeat_timeout_s=settings.heartbeat_timeout_s,
            artifact_max_bytes=int(settings.ray_artifact_max_mb * 2**20),
        )

    def connect(self) -> None:
        """Join the cluster at ``address``, or start a local one (once per process)."""
        if ray.is_initialized():
            return
        if self.address:
            ray.init(address=self.address)
        else:
            ray.init(num_cpus=self.num_cpus, include_dashboard=False)
            self._started_ray = True

    def _wants_gpu(self, device: str) -> bool:
        """A GPU share for ``device``: always for cuda, for auto only on a cluster that
        has GPUs (else the task would wait for one forever). The batched simulator
        (``mujoco_warp``) steps its worlds on the policy's device, so the device alone
        decides for it too; on cpu it runs on Warp's CPU backend."""
        if device == "cpu" or self.gpus_per_candidate == 0:
            return False
        if device != "auto":
            return True
        if self._cluster_gpus is None:
            self._cluster_gpus = float(ray.cluster_resources().get("GPU", 0.0))
        return self._cluster_gpus > 0

    def shutdown(self) -> None:
        """Stop the local cluster this executor started (a joined one is left running)."""
        if self._started_ray and ray.is_initialized():
            ray.shutdown()
        self._started_ray = False

    def run(
        self,
        jobs: Sequence[CandidateJob],
        *,
        on_event: EventCallback | None = None,
        should_cancel: Callable[[], bool] | None = None,
    ) -> Iterator[CandidateResult]:
        self.connect()
        channel = _Channel.remote()  # type: ignore[attr-defined]
        running: dict[ray.ObjectRef, CandidateJob] = {}
        try:
            for job in jobs:
                failure = self._submit(job, channel, running)
                if failure is not None:
                    yield failure
            while running:
                if should_cancel is not None and should_cancel():
                    self._stop(channel, running)
                    break
                ready, _ = ray.wait(list(running), num_returns=1, timeout=POLL_SECONDS)
                self._forward(channel, on_event)
                for ref in ready:
                    yield self._collect(ref, running.pop(ref))
            self._forward(channel, on_event)
            for ref in list(running):
                yield self._collect(ref, running.pop(ref), timeout=POLL_SECONDS)
        finally:
            if running and ray.is_initialized():  # the caller closed the iterator early
                self._stop(channel, running)
            if ray.is_initialized():
                ray.kill(channel)

    def _submit(
        self, job: CandidateJob, channel: Any, running: dict[ray.ObjectRef, CandidateJob]
    ) -> CandidateResult | None:
        resume_files = None
        if job.train.resume_from:
            source = Path(job.train.resume_from)
            try:
                resume_files, left_out = pack(source, list_files(source), self.artifact_max_bytes)
            except OSError as exc:
                return failure(job.key, exc, job.train.output_dir)
            if left_out or not resume_files:
                problem = f"left out {left_out}" if left_out else "it is empty or missing"
                return CandidateResult(
                    job.key, "failed", f"cannot send checkpoint {source}: {problem}", "executor"
                )
        gpus = self.gpus_per_candidate if self._wants_gpu(job.train.device) else 0.0
        ref = _remote_candidate.options(
            num_cpus=self.cpus_per_candidate,
            num_gpus=gpus,
            max_retries=self.max_retries,
            retry_exceptions=False,
            name=f"candidate-{job.key}",
        ).remote(
            job,
            resume_files,
            channel,
            self.deadline_s,
            self.heartbeat_timeout_s,
            self.artifact_max_bytes,
            _archive_bytes(job),
        )
        running[ref] = job
        return None

    def _forward(self, channel: Any, on_event: EventCallback | None) -> None:
        for kind, data in ray.get(channel.drain.remote()):
            if on_event is not None:
                on_event(kind, data)

    def _collect(
        self, ref: ray.ObjectRef, job: CandidateJob, timeout: float | None = None
    ) -> CandidateResult:
        try:
            outcome: NodeOutcome = ray.get(ref, timeout=timeout)
        except (TaskCancelledError, GetTimeoutError):
            return CandidateResult(job.key, "cancelled", "cancelled", "cancelled")
        except RayTaskError as exc:  # the service's own code (or the node's storage) failed
            return failure(job.key, exc.cause if exc.cause is not None else exc)
        except RayError as exc:  # the worker or node died on every attempt
            attempts = self.max_retries + 1
            error = f"the Ray worker running it was lost on all {attempts} attempts: {exc}"
            return CandidateResult(job.key, "failed", error[:2000], "executor")
        if outcome.left_out:
            log.warning(
                "%s: files over the size cap stayed on %s: %s",
                job.key,
                outcome.node,
                outcome.left_out,
            )
        return land(outcome, job)

    def _stop(self, channel: Any, running: dict[ray.ObjectRef, CandidateJob]) -> None:
        """Raise the cancel flag, give the tasks a grace period, then kill the rest."""
        ray.get(channel.cancel.remote())
        refs = list(running)
        _, late = ray.wait(refs, num_returns=len(refs), timeout=CANCEL_GRACE_S)
        for ref in late:
            ray.cancel(ref, force=True)


def land(outcome: NodeOutcome, job: CandidateJob) -> CandidateResult:
    """Write a task's files into the job's output directories; its paths point there.
    When this side's storage fails, the result says so (a "storage" failure)."""
    try:
        return _land(outcome, job)
    except OSError as exc:
        return failure(job.key, exc, job.train.output_dir)


def _land(outcome: NodeOutcome, job: CandidateJob) -> CandidateResult:
    train_out = Path(job.train.output_dir)
    eval_out = Path(job.eval.output_dir) if job.eval is not None else train_out
    _clear(train_out, _TRAIN_FILES + _TRAIN_LOGS)
    shutil.rmtree(train_out / CHECKPOINT_DIR, ignore_errors=True)
    _clear(eval_out, _EVAL_FILES)
    evaluation = {n: data for n, data in outcome.files.items() if n in _EVAL_FILES}
    training = {n: data for n, data in outcome.files.items() if n not in _EVAL_FILES}
    train_out.mkdir(parents=True, exist_ok=True)
    unpack(training, train_out)
    eval_out.mkdir(parents=True, exist_ok=True)
    unpack(evaluation, eval_out)
    result = outcome.result
    result.artifact_dir = str(train_out)
    has_video = result.video_path is not None and VIDEO_FILE in outcome.files
    result.video_path = str(eval_out / VIDEO_FILE) if has_video else None
    return result


def _clear(directory: Path, names: Sequence[str]) -> None:
    for name in names:
        (directory / name).unlink(missing_ok=True)


def _archive_bytes(job: CandidateJob) -> bytes | None:
    """The screening archive's bytes, for the node; None (the candidate trains without
    screening) when there is none or it cannot be read."""
    if not job.train.screen_archive:
        return None
    try:
        return Path(job.train.screen_archive).read_bytes()
    except OSError:
        return None
