"""The local executor: parallel jobs, progress events, results as they land, cancel."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from app.config import Settings
from app.execution.executor import CandidateJob, make_executor
from app.execution.isolation import strongest
from app.execution.local import LocalExecutor
from tests.sandbox.jobs import pendulum_job


def _job(out: Path, key: str, **changes) -> CandidateJob:
    train, evaluation = pendulum_job(out, **changes)
    return CandidateJob(key=key, train=train, eval=replace(evaluation, episodes=1))


def test_two_jobs_run_in_parallel_and_both_yield(tmp_path: Path) -> None:
    jobs = [_job(tmp_path / "a", "a", seed=1), _job(tmp_path / "b", "b", seed=2)]
    jobs[0] = replace(jobs[0], eval=replace(jobs[0].eval, video=True, video_max_steps=20))
    events: list[tuple[str, dict]] = []
    results = list(LocalExecutor(2).run(jobs, on_event=lambda k, d: events.append((k, d))))

    assert sorted(r.key for r in results) == ["a", "b"]
    for result in results:
        assert result.status == "done", result.error
        assert result.env_steps == 1024 and result.train_seconds > 0
        assert result.sandbox_level == strongest()
        assert result.stats["component_names"] == ["upright", "spin", "effort"]
        assert result.evaluation["episodes"] == 1
        assert result.fitness == result.evaluation["fitness"]
        assert 0.0 <= result.success_rate <= 1.0
    by_key = {r.key: r for r in results}
    assert by_key["a"].video_path == str(tmp_path / "a" / "rollout.mp4")
    assert by_key["b"].video_path is None

    kinds = [kind for kind, _ in events]
    # Both started before either finished: they ran side by side.
    assert kinds[:2] == ["started", "started"]
    heartbeats = [d["steps"] for k, d in events if k == "heartbeat" and d["key"] == "a"]
    assert heartbeats and heartbeats[-1] == 1024 and heartbeats == sorted(heartbeats)
    assert sorted(d["key"] for k, d in events if k == "finished") == ["a", "b"]


def test_cancel_stops_the_running_job_and_skips_the_rest(tmp_path: Path) -> None:
    stuck = "def compute_reward(state, action):\n    while True:\n        pass\n"
    jobs = [_job(tmp_path / k, k, reward_code=stuck) for k in ("a", "b", "c")]
    started: list[str] = []
    results = list(
        LocalExecutor(1).run(
            jobs,
            on_event=lambda kind, data: started.append(data["key"]) if kind == "started" else None,
            should_cancel=lambda: bool(started),
        )
    )
    assert sorted(r.key for r in results) == ["a", "b", "c"]
    assert {r.status for r in results} == {"cancelled"}
    assert len(started) == 1  # the two queued jobs never started a sandbox


def test_invalid_candidate_comes_back_invalid_without_evaluation(tmp_path: Path) -> None:
    bad = "def compute_reward(state, action):\n    return None\n"
    [result] = LocalExecutor(1).run([_job(tmp_path, "x", reward_code=bad)])
    assert (result.status, result.error_kind) == ("invalid", "smoke")
    assert "must return a tuple (total, components), got a NoneType" in result.error
    assert result.evaluation == {} and result.fitness is None


def test_settings_choose_the_local_executor() -> None:
    executor = make_executor(
        Settings(workers=3, candidate_deadline_s=60.0, heartbeat_timeout_s=10.0)
    )
    assert isinstance(executor, LocalExecutor)
    assert (executor.workers, executor.deadline_s, executor.heartbeat_timeout_s) == (3, 60.0, 10.0)
