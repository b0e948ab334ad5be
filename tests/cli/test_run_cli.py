"""A user's run from the command line, end to end: a real fake-LLM server that
answers the way models do (good code, a bug, prose, a 500, a 429, a timeout),
real sandboxed training, real evaluation, on SQLite and on Postgres."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from app.db.models import Candidate, LLMCall, Run
from app.db.session import make_engine, make_session_factory
from envs import get_card
from tests.cli.panel import flat
from tests.fake_llm import (
    FakeLLMServer,
    Reply,
    Sleep,
    buggy_reward_response,
    good_reward_response,
    prose_only_response,
    rate_limited,
    server_error,
)
from tests.processes import cli_env, offline_run_args, run_cli

ENV_ID = "MountainCarContinuous-v0"
BUDGET = [
    "--iterations",
    "2",
    "--samples",
    "3",
    "--timesteps",
    "2000",
    "--final-seeds",
    "1",
    "--eval-episodes",
    "1",
    "--n-envs",
    "2",
    "--no-video",  # films are tested where they are shown: the dashboard tests, the demo
]


def _script(fake: FakeLLMServer) -> None:
    card = get_card(ENV_ID)
    good, bug, prose = (
        good_reward_response(card),
        buggy_reward_response(card),
        prose_only_response(),
    )
    fake.enqueue(
        server_error(),  # iteration 1: retried
        Reply([good, bug, prose]),
        rate_limited(0.2),  # iteration 2: retried, then a timeout, then an answer
        Sleep(6.0),
        Reply([good, bug, good]),
    )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'rewardforge.db'}"
    return request.getfixturevalue("postgres_test_database")


def test_cli_run_with_llm_reflects_errors_and_finishes(
    fake_llm: FakeLLMServer, database_url: str, tmp_path: Path
) -> None:
    _script(fake_llm)
    env = cli_env(
        tmp_path / "data",
        database_url=database_url,
        llm_model="fake-model",
        llm_base_url=fake_llm.base_url,
        llm_api_key="sk-test-not-secret",
        llm_timeout_s="2",
        llm_max_retries="3",
    )
    done = run_cli(
        ["run", "--env", ENV_ID, "--task", "reach the flag on the right hill", *BUDGET, "--json"],
        env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    assert summary["status"] == "succeeded"
    assert summary["best_fitness"] is not None and summary["baseline_fitness"] is not None

    prompts = [r["messages"] for r in fake_llm.chat_requests]
    second = "\n".join(m["content"] for m in prompts[-1])
    assert "speed_scale" in second  # the NameError of iteration 1's buggy candidate
    assert "compute_reward" in second and "no Python code" in second.replace(
        "no python code", "no Python code"
    )

    session = make_session_factory(make_engine(database_url))()
    run = session.get(Run, summary["run_id"])
    assert run is not None and run.status == "succeeded"
    rows = list(
        session.scalars(
            select(Candidate).where(Candidate.run_id == run.id, Candidate.kind == "search")
        )
    )
    first = {c.sample_index: c for c in rows if c.iteration_index == 0}
    assert first[0].status == "done" and first[0].fitness is not None
    assert first[1].status == "invalid" and first[1].error_kind == "smoke"
    assert first[2].status == "invalid" and first[2].error_kind == "extraction"
    assert all(c.sandbox_level for c in rows if c.status == "done")
    calls = list(session.scalars(select(LLMCall).where(LLMCall.run_id == run.id)))
    assert calls and all("sk-test" not in json.dumps(c.request) for c in calls)
    assert sum(c.prompt_tokens for c in calls) > 0
    session.close()


def test_cli_show_and_export_the_best_reward(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    env = cli_env(tmp_path / "data")
    done = run_cli(
        [*offline_run_args(iterations=1, samples=2, timesteps=2000, final_seeds=1), "--json"],
        env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    run_id = json.loads(done.stdout)["run_id"]
    assert not fake_llm.chat_requests  # offline: no LLM was asked

    shown = run_cli(["show", run_id], env)
    assert shown.returncode == 0 and run_id in shown.stdout and "final evaluation" in shown.stdout

    target = tmp_path / "my_reward.py"
    exported = run_cli(["export", run_id, "-o", str(target)], env)
    assert exported.returncode == 0, exported.stderr
    namespace: dict = {}
    exec(compile(target.read_text(), str(target), "exec"), namespace)  # the module stands alone
    assert callable(namespace["compute_reward"]) and namespace["REWARD_INFO"]["run_id"] == run_id


def test_cli_rejects_unknown_env_and_metric_clearly(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "data")
    bad_env = run_cli(["run", "--env", "NoSuchEnv-v0", "--task", "x", "--offline"], env)
    assert bad_env.returncode != 0
    assert "--env: unknown env 'NoSuchEnv-v0'" in flat(bad_env.stderr)
    bad_metric = run_cli(["run", "--env", ENV_ID, "--task", "x", "--fitness", "nope"], env)
    assert bad_metric.returncode != 0
    assert f"--fitness: {ENV_ID} has no fitness metric 'nope'" in flat(bad_metric.stderr)
