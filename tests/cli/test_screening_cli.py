"""Screening from the CLI: iteration 0's evaluations fill the run's archive of episodes,
and before iteration 1's rewards train their sandboxes rank those episodes; the reward
that orders them against the fitness is screened out untrained, the other trains."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from app.db.models import Candidate
from app.db.session import make_engine, make_session_factory
from app.evolution.screening import ARCHIVE_FILE
from app.evolution.search_history import candidate_line
from envs import get_card
from sandbox.episodes import read_episodes
from sandbox.spec import EPISODES_FILE, POLICY_FILE
from tests.cli.panel import flat
from tests.fake_llm import FakeLLMServer, Reply, good_reward_response
from tests.processes import cli_env, run_cli

ENV_ID = "MountainCarContinuous-v0"
EPISODES = 3  # per evaluation: iteration 0's two candidates archive six


def reward(sign: str, variable: str = "position") -> str:
    return f"""Pays for the car's {variable}{" (negated)" if sign == "-" else ""}.

```python
import numpy as np


def compute_reward(state, action):
    place = {sign}np.asarray(state["{variable}"], dtype=np.float64)
    return place, {{"place": place}}
```
"""


def test_a_reward_that_ranks_the_archive_backwards_is_screened_out(
    fake_llm: FakeLLMServer, tmp_path: Path
) -> None:
    card = get_card(ENV_ID)
    first_rewards = [good_reward_response(card), reward("", "height")]
    fake_llm.enqueue(Reply(first_rewards), Reply([reward(""), reward("-")]))
    env = cli_env(tmp_path / "data")
    args = ["--env", ENV_ID, "--task", "reach the flag", "--model", "fake-model"]
    args += ["--base-url", fake_llm.base_url, "--iterations", "2", "--samples", "2"]
    args += ["--timesteps", "1024", "--final-seeds", "0", "--eval-episodes", str(EPISODES)]
    args += ["--no-video", "--screen-min-correlation", "0", "--json"]
    done = run_cli(["run", *args], env)
    assert done.returncode == 0, done.stderr[-3000:]
    run_id = json.loads(done.stdout)["run_id"]
    shown = run_cli(["show", run_id], env)
    assert "screened out before training: 1 reward(s), 1,024 env steps saved" in shown.stdout

    factory = make_session_factory(make_engine(f"sqlite:///{tmp_path / 'data/rewardforge.db'}"))
    with factory() as session:
        rows = session.scalars(
            select(Candidate)
            .where(Candidate.run_id == run_id)
            .order_by(Candidate.iteration_index, Candidate.sample_index)
        ).all()
    first, second = rows[:2], rows[2:]
    for row in first:  # trained before there was an archive, and recorded for it
        assert row.status == "done" and "screen" not in row.stats
        assert row.evaluation["episodes_file"] == EPISODES_FILE
        recorded = read_episodes(Path(row.artifact_dir or "") / EPISODES_FILE)
        assert [e.fitness for e in recorded] == row.evaluation["episode_fitness"]
    archive = read_episodes(Path(first[0].artifact_dir or "").parent / ARCHIVE_FILE)
    assert len(archive) == 2 * EPISODES

    forward, backward = (row.stats["screen"] for row in second)
    assert forward["episodes"] == backward["episodes"] == 2 * EPISODES
    assert forward["rank_correlation"] == -backward["rank_correlation"] != 0
    screened, trained = sorted(second, key=lambda r: r.stats["screen"]["rank_correlation"])
    assert screened.status == "screened" and screened.error_kind == "screened"
    assert screened.env_steps == 0 and screened.fitness is None
    assert not (Path(screened.artifact_dir or "") / POLICY_FILE).exists()
    assert trained.status == "done" and trained.fitness is not None
    assert trained.stats["screen"]["screened"] is False

    # What the next prompt says of each.
    rho = screened.stats["screen"]["rank_correlation"]
    assert candidate_line(screened).startswith(
        f"candidate {screened.sample_index}: screened out, not trained; its returns on "
        f"{2 * EPISODES} archived episodes rank them with correlation {rho:.2f} against the "
        "fitness; it ranks the episode with fitness "
    )
    assert "before training, its returns on 6 archived episodes" in candidate_line(trained)


def test_a_threshold_without_screening_is_refused(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "data")
    args = ["run", "--env", ENV_ID, "--task", "x", "--offline", "--no-screening"]
    done = run_cli([*args, "--screen-min-correlation", "0.2"], env)
    assert done.returncode != 0
    assert "screen_min_correlation needs screening on" in flat(done.stderr)
