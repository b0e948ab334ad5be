"""bench/quality.py on a two-task mini suite, at a tiny budget, with rewards written by an
LLM endpoint (the fake LLM HTTP server): whole searches through the CLI, a table and JSON
under the results folder, and a re-run that skips what is finished."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.fake_llm import FakeLLMServer, Reply
from tests.processes import REPO

# Valid for any card: a small effort penalty, batched over the envs.
ANSWER = """A gentle reward on effort only.

```python
import numpy as np


def compute_reward(state, action):
    batch = np.asarray(action).shape[0]
    effort = -0.01 * np.sum(np.square(np.reshape(action, (batch, -1))), axis=1)
    return effort, {"effort": effort}
```
"""

MINI = """
[defaults]
iterations = 1
samples = 1
final_seeds = 1
final_top_k = 1
search_seeds = 1

[[task]]
name = "mountaincar-flag"
group = "standard"
env = "MountainCarContinuous-v0"
metric = "reach_flag"
task = "drive up the right hill and reach the flag"
timesteps = 1024

[[task]]
name = "pendulum-upright-steps"
group = "novel"
env = "Pendulum-v1"
metric = "upright_steps"
task = "keep the pendulum upright for as many steps as possible"
timesteps = 1000
"""


def _bench(suite: Path, out: Path, llm: FakeLLMServer) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "bench/quality.py", "--suite", str(suite), "--out", str(out)]
    command += ["--model", "fake-model", "--base-url", llm.base_url, "--eval-episodes", "1"]
    return subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=900, check=False
    )


def test_quality_bench_runs_a_mini_suite_against_an_llm_endpoint_and_skips_on_rerun(
    tmp_path: Path,
) -> None:
    suite, out = tmp_path / "mini.toml", tmp_path / "results"
    suite.write_text(MINI)
    with FakeLLMServer(default=Reply([ANSWER])) as llm:
        first = _bench(suite, out, llm)
        assert first.returncode == 0, first.stderr[-3000:]
        asked = len(llm.chat_requests)
        assert asked == 2  # one iteration per task

        report = json.loads((out / "results.json").read_text())
        standard, novel = report["tasks"]
        assert (standard["group"], novel["group"]) == ("standard", "novel")
        for task in (standard, novel):
            assert task["finished"] == 1, task
            [run] = task["runs"]
            assert run["llm_calls"] == 1 and run["tokens"] > 0
            assert run["env_steps"] > 0 and run["wall_s"] > 0
            assert run["candidate_fitness"] is not None and run["fitness_fitness"] is not None
            assert (out / "runs" / f"{task['name']}-s0" / "rewardforge.db").exists()
        assert novel["normalized_score"] is None  # no human baseline for a novel task
        assert novel["at_least_env"] is None and standard["at_least_env"] is not None
        aggregates = report["aggregates"]
        assert aggregates["novel_tasks"] == 1 and aggregates["beats_sparse_share"] is not None
        table = (out / "results.md").read_text()
        assert "| mountaincar-flag | standard | reach_flag | 1,024 zoo |" in table
        assert "of standard tasks (Eureka: 83% of 29)" in table
        assert "--model fake-model" in table  # the command that made it
        assert "- candidates screened out before training: 0, saving 0 env steps" in table

        again = _bench(suite, out, llm)
        assert again.returncode == 0, again.stderr[-3000:]
        assert "finished, skipped" in again.stdout
        assert len(llm.chat_requests) == asked  # nothing searched twice
        assert json.loads((out / "results.json").read_text())["tasks"][0]["runs"] == [
            standard["runs"][0]
        ]

        # A clone has the table (tracked) but not the stored runs (ignored): it finishes
        # the table from results.json, searching nothing again.
        shutil.rmtree(out / "runs")
        cloned = _bench(suite, out, llm)
        assert cloned.returncode == 0, cloned.stderr[-3000:]
        assert cloned.stdout.count("finished, read from results.json") == 2
        assert len(llm.chat_requests) == asked
        assert json.loads((out / "results.json").read_text())["tasks"] == report["tasks"]

        # A task whose budget changed in the suite is searched again, not read back.
        suite.write_text(MINI.replace("timesteps = 1000", "timesteps = 1200"))
        changed = _bench(suite, out, llm)
        assert changed.returncode == 0, changed.stderr[-3000:]
        assert changed.stdout.count("finished, read from results.json") == 1
        assert len(llm.chat_requests) == asked + 1
        _, rerun = json.loads((out / "results.json").read_text())["tasks"]
        assert rerun["per_candidate"] == "1,200 zoo"

        # A row whose candidates trained with other settings than the card gives now (the
        # card's settings changed since) is searched again; the new row says its settings.
        report = json.loads((out / "results.json").read_text())
        row = report["tasks"][0]["runs"][0]
        assert row["settings"]["algorithm"] == "PPO" and row["settings"]["hyperparams"]
        row["settings"]["hyperparams"]["learning_rate"] = 0.5
        (out / "results.json").write_text(json.dumps(report))
        stale = _bench(suite, out, llm)
        assert stale.returncode == 0, stale.stderr[-3000:]
        assert "finished, read from results.json" not in stale.stdout
        assert len(llm.chat_requests) == asked + 2
        [redone] = json.loads((out / "results.json").read_text())["tasks"][0]["runs"]
        assert redone["settings"] == standard["runs"][0]["settings"]
