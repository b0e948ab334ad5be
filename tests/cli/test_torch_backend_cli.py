"""A run whose reward code computes with torch: the prompt asks for tensors, the gate
admits torch but not its file and compiler entry points, and the rewards train."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from app.db.models import Candidate, Iteration
from app.db.session import make_engine, make_session_factory
from tests.cli.panel import flat
from tests.fake_llm import FakeLLMServer, Reply
from tests.processes import cli_env, run_cli

ENV_ID = "MountainCarContinuous-v0"

TORCH_REWARD = """Progress toward the flag, with a bounded effort penalty, on tensors.

```python
import torch

EFFORT_TEMPERATURE = 1.0


def compute_reward(state, action):
    progress = state["height"] + 10.0 * state["reached_goal"]
    effort = torch.sum(torch.square(action), dim=-1)
    effort_penalty = -0.05 * torch.tanh(effort / EFFORT_TEMPERATURE)
    return progress + effort_penalty, {"progress": progress, "effort_penalty": effort_penalty}
```
"""

HOSTILE_TORCH_REWARD = """```python
import torch


def compute_reward(state, action):
    table = torch.load("/etc/passwd")
    return table, {"table": table}
```
"""


def test_torch_backend_run_from_the_cli(fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    fake_llm.enqueue(Reply([TORCH_REWARD, HOSTILE_TORCH_REWARD]))
    env = cli_env(tmp_path / "data")
    args = ["--env", ENV_ID, "--task", "reach the flag", "--reward-backend", "torch"]
    args += ["--device", "auto", "--model", "fake-model", "--base-url", fake_llm.base_url]
    args += ["--iterations", "1", "--samples", "2", "--timesteps", "2048", "--final-seeds", "0"]
    done = run_cli(["run", *args, "--eval-episodes", "1", "--n-envs", "2", "--json"], env)
    assert done.returncode == 0, done.stderr[-3000:]
    run_id = json.loads(done.stdout)["run_id"]

    factory = make_session_factory(make_engine(f"sqlite:///{tmp_path / 'data/rewardforge.db'}"))
    with factory() as session:
        prompt = session.scalars(select(Iteration.messages).where(Iteration.run_id == run_id)).one()
        candidates = session.scalars(
            select(Candidate).where(Candidate.run_id == run_id).order_by(Candidate.sample_index)
        ).all()
    assert "float32 torch tensors" in prompt[1]["content"]
    assert "tuple[torch.Tensor, dict[str, torch.Tensor]]" in prompt[0]["content"]
    good, hostile = candidates
    assert good.status == "done", good.error
    assert good.fitness is not None and good.env_steps == 2048
    assert good.stats["component_names"] == ["progress", "effort_penalty"]
    assert hostile.status == "invalid" and hostile.error_kind == "validation"
    assert "torch's load is not allowed" in (hostile.error or "")


def test_cli_refuses_unknown_backend_and_device(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "data")
    base = ["run", "--env", ENV_ID, "--task", "x", "--offline"]
    backend = run_cli([*base, "--reward-backend", "jax"], env)
    assert backend.returncode != 0
    assert "--reward-backend: Input should be 'numpy' or 'torch'" in flat(backend.stderr)
    device = run_cli([*base, "--device", "tpu"], env)
    assert device.returncode != 0
    assert "--device: Value error, device must be auto, cpu or cuda[:N]" in flat(device.stderr)
