"""The Ray executor on a local cluster of 2 CPUs: a run gives the local executor's
results to the bit, the files land in the service's store, a Ray worker killed
mid-candidate means the candidate is retried, and cancelling kills the sandboxes."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ray")

from app.config import Settings  # noqa: E402
from app.execution.executor import CandidateJob, make_executor  # noqa: E402
from app.execution.local import LocalExecutor  # noqa: E402
from app.execution.process import descendants  # noqa: E402
from app.execution.ray_executor import RayExecutor  # noqa: E402
from tests.evolution.runs import new_run  # noqa: E402
from tests.sandbox.jobs import pendulum_job  # noqa: E402

TIMING = ("train_seconds", "steps_per_second")


@pytest.fixture(scope="module")
def cluster() -> Iterator[RayExecutor]:
    """A throwaway local Ray cluster of 2 CPUs (no token auth: it is ours alone)."""
    previous = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"
    executor = RayExecutor(num_cpus=2)
    executor.connect()
    try:
        yield executor
    finally:
        executor.shutdown()
        if previous is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = previous


def _without_timing(stats: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in stats.items() if k not in TIMING}


@pytest.mark.slow
def test_ray_run_matches_local_run(tmp_path: Path, cluster: RayExecutor) -> None:
    """Halving on: four candidates, checkpoints shipped to the node and back."""
    options = {"eval_episodes": 1, "video": False, "halving": True}
    runs = {
        name: new_run(tmp_path / name, samples=4, timesteps=2048, options=options)
        for name in ("local", "ray")
    }
    assert runs["local"].execute(LocalExecutor(2)) == "succeeded"
    assert runs["ray"].execute(cluster) == "succeeded"

    local, remote = (runs[name].candidates() for name in ("local", "ray"))
    assert [c.code_hash for c in local] == [c.code_hash for c in remote]
    assert sorted(c.status for c in remote) == ["done", "stopped", "stopped", "stopped"]
    for mine, theirs in zip(local, remote, strict=True):
        assert (theirs.status, theirs.fitness, theirs.env_steps) == (
            mine.status,
            mine.fitness,
            mine.env_steps,
        )
        assert theirs.evaluation == mine.evaluation
        assert _without_timing(theirs.stats) == _without_timing(mine.stats)
        ray_dir = Path(theirs.artifact_dir)
        assert ray_dir == runs["ray"].data_dir / "artifacts" / runs["ray"].run_id / theirs.id
        for name in ("policy.pt", "evaluation.json"):
            assert (ray_dir / name).read_bytes() == (Path(mine.artifact_dir) / name).read_bytes()
        assert (ray_dir / "stats.json").is_file() and (ray_dir / "train.stderr.log").is_file()
    [winner] = [c for c in remote if c.status == "done"]
    assert sorted(os.listdir(Path(winner.artifact_dir) / "checkpoint")) == [
        "model.zip",
        "stats_state.json",
        "vecnormalize.pkl",
    ]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _task_processes(key: str) -> list[int]:
    """The Ray worker running the job's task (Ray titles it ``ray::candidate-KEY``),
    then every process under it: the sandboxes, whatever isolation wraps them."""
    for entry in Path("/proc").iterdir():
        try:
            title = (entry / "cmdline").read_bytes().split(b"\0")[0].decode()
        except OSError:
            continue
        if entry.name.isdigit() and title == f"ray::candidate-{key}":
            return [int(entry.name), *descendants(int(entry.name))]
    return []


@pytest.mark.slow
def test_killed_ray_worker_retries_the_candidate(tmp_path: Path, cluster: RayExecutor) -> None:
    options = {"eval_episodes": 1, "video": True, "halving": False}
    tiny = new_run(tmp_path, samples=2, timesteps=2048, options=options)
    killed: dict[str, Any] = {}

    def kill_first_worker(kind: str, data: dict[str, Any]) -> None:
        if killed or kind != "candidate.heartbeat" or not data["steps"]:
            return
        worker, *sandboxes = _task_processes(data["key"])
        assert sandboxes, "the training sandbox runs under the task's worker"
        os.kill(worker, signal.SIGKILL)
        killed.update(key=data["key"], processes=[worker, *sandboxes])

    assert tiny.execute(cluster, on_progress=kill_first_worker) == "succeeded"
    assert killed, "no heartbeat came from a training sandbox"
    rows = {c.id: c for c in tiny.candidates()}
    victim = rows[str(killed["key"])]
    assert victim.status == "done" and victim.env_steps == 2048 and victim.fitness is not None
    for row in rows.values():  # the files came back from the node into the store
        out = Path(row.artifact_dir)
        assert out == tiny.data_dir / "artifacts" / tiny.run_id / row.id
        assert {"policy.pt", "stats.json", "evaluation.json", "rollout.mp4"} <= set(os.listdir(out))
        assert (out / "rollout.mp4").stat().st_size > 1000
    starts = [d["key"] for d in tiny.seen("candidate.started")]
    assert starts.count(victim.id) == 2  # retried once, from the start
    assert all(starts.count(key) == 1 for key in rows if key != victim.id)
    assert not any(_alive(pid) for pid in killed["processes"])  # nothing left running


def test_cancel_stops_ray_tasks_and_kills_their_sandboxes(
    tmp_path: Path, cluster: RayExecutor
) -> None:
    stuck = "def compute_reward(state, action):\n    while True:\n        pass\n"
    jobs = []
    for key in ("a", "b", "c"):
        train, evaluation = pendulum_job(tmp_path / key, reward_code=stuck)
        jobs.append(CandidateJob(f"stuck-{key}-{tmp_path.name}", train, evaluation))
    seen: dict[str, list[int]] = {}

    def cancel_once_running() -> bool:
        for job in jobs:
            if len(seen.get(job.key, [])) < 2:
                seen[job.key] = _task_processes(job.key)
        return sum(len(pids) > 1 for pids in seen.values()) >= 2  # two sandboxes are up

    begun = time.monotonic()
    results = list(cluster.run(jobs, should_cancel=cancel_once_running))
    assert sorted(r.key for r in results) == sorted(j.key for j in jobs)
    assert {r.status for r in results} == {"cancelled"}
    assert time.monotonic() - begun < 60  # interrupted, not waited out
    running = [pid for pids in seen.values() for pid in pids[1:]]
    assert len(running) >= 2 and not any(_alive(pid) for pid in running)


def test_settings_choose_the_ray_executor() -> None:
    settings = Settings(
        executor="ray",
        ray_address="ray://head:10001",
        ray_gpus_per_candidate=0.25,
        ray_max_retries=5,
        ray_artifact_max_mb=8,
        candidate_deadline_s=60.0,
    )
    executor = make_executor(settings)
    assert isinstance(executor, RayExecutor)
    assert (executor.address, executor.gpus_per_candidate, executor.max_retries) == (
        "ray://head:10001",
        0.25,
        5,
    )
    assert (executor.artifact_max_bytes, executor.deadline_s) == (8 * 2**20, 60.0)


def test_missing_checkpoint_fails_the_job_without_starting_it(
    tmp_path: Path, cluster: RayExecutor
) -> None:
    train, evaluation = pendulum_job(tmp_path, resume_from=str(tmp_path / "nowhere"))
    job = CandidateJob(f"no-checkpoint-{tmp_path.name}", train, replace(evaluation, video=False))
    events: list[str] = []
    [result] = cluster.run([job], on_event=lambda kind, data: events.append(kind))
    assert (result.status, result.error_kind) == ("failed", "executor")
    assert "cannot send checkpoint" in (result.error or "") and events == []


def test_auto_device_on_a_cluster_without_gpus_asks_for_none(
    tmp_path: Path, cluster: RayExecutor
) -> None:
    """A GPU share for device auto would leave the task waiting forever on CPU nodes."""
    wants_gpus = RayExecutor(num_cpus=2, gpus_per_candidate=0.5)  # joins the running cluster
    train, evaluation = pendulum_job(tmp_path, device="auto")
    job = CandidateJob(f"auto-{tmp_path.name}", train, replace(evaluation, video=False))
    [result] = wants_gpus.run([job])
    assert result.status == "done", result.error
    assert wants_gpus._wants_gpu("cuda") and not wants_gpus._wants_gpu("cpu")
