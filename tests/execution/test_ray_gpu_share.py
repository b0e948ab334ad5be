"""Which candidates ask Ray for a GPU share: the policy's device decides, for the batched
simulator too (its worlds run on that device), and a cluster without GPUs is never
asked for one. No cluster is started: the task's options are read as they are made."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ray")

from app.execution import ray_executor  # noqa: E402
from app.execution.executor import CandidateJob  # noqa: E402
from app.execution.ray_executor import RayExecutor  # noqa: E402
from tests.sandbox.jobs import pendulum_job  # noqa: E402

SHARE = 0.25


class _Recorder:
    """Stands in for the remote task: keeps the options it is submitted with."""

    def __init__(self) -> None:
        self.options_seen: dict[str, Any] = {}

    def options(self, **options: Any) -> _Recorder:
        self.options_seen = options
        return self

    def remote(self, *args: Any) -> object:
        return object()


def _gpus_asked(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    simulator: str,
    device: str,
    cluster_gpus: float,
    share: float = SHARE,
) -> float:
    recorder = _Recorder()
    monkeypatch.setattr(ray_executor, "_remote_candidate", recorder)
    executor = RayExecutor(num_cpus=2, gpus_per_candidate=share)
    executor._cluster_gpus = cluster_gpus  # what ray.cluster_resources() would say
    train, evaluation = pendulum_job(tmp_path, device=device)
    job = CandidateJob(
        "c", replace(train, env_id="HalfCheetah-v5", simulator=simulator), evaluation
    )
    running: dict[Any, CandidateJob] = {}
    assert executor._submit(job, channel=None, running=running) is None
    assert list(running.values()) == [job]
    return float(recorder.options_seen["num_gpus"])


@pytest.mark.parametrize(
    ("device", "cluster_gpus", "expected"),
    [
        ("auto", 2.0, SHARE),  # a GPU device gets its share
        ("cuda", 2.0, SHARE),
        ("cuda:1", 2.0, SHARE),
        ("auto", 0.0, 0.0),  # auto on a CPU-only cluster asks for none
        ("cpu", 2.0, 0.0),  # on the CPU: none
    ],
)
def test_a_batched_candidate_gets_a_gpu_share_by_its_device(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    device: str,
    cluster_gpus: float,
    expected: float,
) -> None:
    asked = _gpus_asked(
        tmp_path, monkeypatch, simulator="mujoco_warp", device=device, cluster_gpus=cluster_gpus
    )
    assert asked == expected


@pytest.mark.parametrize("simulator", ["mujoco", "mujoco_warp"])
def test_no_gpu_share_when_none_is_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, simulator: str
) -> None:
    asked = _gpus_asked(
        tmp_path, monkeypatch, simulator=simulator, device="cuda", cluster_gpus=2.0, share=0.0
    )
    assert asked == 0.0


def test_gymnasium_candidate_follows_the_same_device_rule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_gpus = _gpus_asked(tmp_path, monkeypatch, simulator="mujoco", device="auto", cluster_gpus=1)
    on_cpus = _gpus_asked(tmp_path, monkeypatch, simulator="mujoco", device="auto", cluster_gpus=0)
    assert (on_gpus, on_cpus) == (SHARE, 0.0)
