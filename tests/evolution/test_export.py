"""The exported module: only the gated reward code runs, and it trains outside rewardforge."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from app.db.candidates import best_candidate
from app.db.models import Candidate, Run
from app.evolution.export import HEADER, export_module, python_literal, render_module
from envs import get_card
from envs.card import StateVar
from tests.api.seed import REWARD, finished_iteration, queued_run

MARKER = "pwned.txt"  # what the hostile texts below try to create on import
HOSTILE = [
    f'balance the pole"""\nimport os; os.system("touch {MARKER}")\n"""',
    f"balance the pole'''\nopen('{MARKER}', 'w')\n'''",
    f"ends in a backslash \\\nopen('{MARKER}', 'w')  #",
    "\\N{BULLET} \\x41 \\u0041 \\' \\\" and \N{BULLET} \\",
    "lone \ud800 surrogates \udfff",
    f"nul \x00 cr \r lf \n ff \x0c tab \t ls \u2028 nel \x85 open('{MARKER}', 'w')",
    "{info} {0} %s {{}} }",
    "\U0001f600 wide",
]
STORABLE = [text for text in HOSTILE if "\ud800" not in text and "\x00" not in text]


def _run(**fields: object) -> Run:
    values: dict[str, object] = {
        "id": "0123456789ab",
        "env_id": "CartPole-v1",
        "card_spec": None,
        "task": "keep the pole upright",
        "fitness_metric": "balanced_steps",
        "options": {},
    }
    return Run(**{**values, **fields})


def _candidate(**fields: object) -> Candidate:
    values: dict[str, object] = {
        "id": "ba9876543210",
        "iteration_index": 1,
        "sample_index": 2,
        "code": REWARD,
        "fitness": 123.5,
        "success_rate": 0.5,
        "sandbox_level": "bwrap",
    }
    return Candidate(**{**values, **fields})


def _import_in_fresh_process(folder: Path, names: list[str]) -> list[dict]:
    """Import each module by name in a new interpreter run in ``folder``; its REWARD_INFO
    and STATE_VARIABLES as ascii() text, and the modules of rewardforge it loaded."""
    script = textwrap.dedent(
        """
        import importlib, json, sys
        out = []
        for name in sys.argv[1:]:
            m = importlib.import_module(name)
            out.append({"info": ascii(m.REWARD_INFO), "vars": ascii(m.STATE_VARIABLES)})
        loaded = [n for n in sys.modules if n.split(".")[0] in ("app", "sandbox", "envs")]
        print(json.dumps({"modules": out, "loaded": loaded}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, *names],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["loaded"] == []  # importing the module needs nothing of rewardforge
    return report["modules"]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_python_literal_reads_back_as_the_same_string(text: str) -> None:
    literal = python_literal({"value": [text, 1.5, None, True]})
    # escapes only, one line per item of the outer dict: no raw line break within a string
    assert literal.isascii() and "\r" not in literal and len(literal.splitlines()) == 3
    assert ast.literal_eval(literal) == {"value": [text, 1.5, None, True]}


def test_python_literal_admits_plain_values_only() -> None:
    class Sneaky(str):
        def __repr__(self) -> str:
            return "__import__('os')"

    with pytest.raises(ValueError, match="Sneaky"):
        python_literal({"x": Sneaky("a")})
    assert python_literal({"x": [float("nan"), float("inf")]}) == "{\n    'x': [None, None],\n}"


def test_module_is_the_header_the_code_and_data_whatever_the_values(tmp_path: Path) -> None:
    card = get_card("CartPole-v1")
    benign_text = render_module(run=_run(), candidate=_candidate(), card=card)
    assert "keep the pole upright" not in benign_text  # no task text at all
    benign = ast.parse(benign_text)
    code_statements = [ast.dump(node) for node in ast.parse(REWARD).body]
    names = []
    for i, text in enumerate(HOSTILE):
        hostile_card = replace(card, state_vars=(StateVar(text, (2,), text, text),))
        module = render_module(
            run=_run(id=text, env_id=text, task=text, fitness_metric=text),
            candidate=_candidate(id=text, sandbox_level=text),
            card=hostile_card,
        )
        body = ast.parse(module).body
        assert ast.literal_eval(body[0].value) == ast.literal_eval(HEADER.split("\n\n#")[0])  # type: ignore[attr-defined]
        assert [ast.dump(node) for node in body[1:-4]] == code_statements
        footer = body[-4:]
        assert [ast.dump(n) for n in footer[2:]] == [ast.dump(n) for n in benign.body[-2:]]
        info = ast.literal_eval(footer[0].value)  # type: ignore[attr-defined]
        assert info["run_id"] == info["env_id"] == info["sandbox_level"] == text
        assert "task" not in info
        (tmp_path / f"exported_{i}.py").write_bytes(module.encode())
        names.append(f"exported_{i}")
    imported = _import_in_fresh_process(tmp_path, names)
    # run id, candidate id, env id, metric and sandbox level: each read back intact
    assert [m["info"].count(ascii(text)) for m, text in zip(imported, HOSTILE, strict=True)] == [
        5 for _ in HOSTILE
    ]
    made = {p.name for p in tmp_path.iterdir() if not p.name.startswith("exported_")}
    assert made <= {"__pycache__"}  # nothing ran: no marker, no other file


@pytest.mark.parametrize("text", STORABLE, ids=range(len(STORABLE)))
def test_hostile_task_of_a_stored_run_does_nothing_on_import(
    session_factory: sessionmaker[Session], tmp_path: Path, text: str
) -> None:
    with session_factory.begin() as session:
        run = queued_run(session, task=text)
        best = finished_iteration(session, run=run, index=2, artifacts_dir=tmp_path / "art")[-1]
        module = export_module(run, best_candidate(session, run))
        run_id, best_id = run.id, best.id
    assert MARKER not in module
    (tmp_path / "exported_reward.py").write_text(module, encoding="utf-8")
    (info,) = _import_in_fresh_process(tmp_path, ["exported_reward"])
    assert not (tmp_path / MARKER).exists()
    values = ast.literal_eval(info["info"])
    assert values["run_id"] == run_id and values["candidate_id"] == best_id
    assert values["iteration_index"] == 2  # 0-based, as /api/runs/{id}/iterations/2
    assert values["gate"] == {"verdict": "passed", "imports": ["numpy"], "lines": 5}
    assert values["sandbox_level"] == "rlimits"


def test_export_refuses_code_that_fails_todays_gate() -> None:
    code = REWARD.replace(
        "    upright =", '    np.ctypeslib.load_library("libc.so.6", "/lib")\n    upright ='
    )
    with pytest.raises(ValueError, match="numpy's ctypeslib"):
        render_module(run=_run(), candidate=_candidate(code=code), card=get_card("CartPole-v1"))


def test_export_refuses_a_card_spec_that_is_not_a_module_path() -> None:
    run = _run(card_spec='x:y"""\nimport os')
    with pytest.raises(ValueError, match="not a module path"):
        render_module(run=run, candidate=_candidate(), card=get_card("CartPole-v1"))


def test_export_refuses_code_that_binds_the_modules_own_names() -> None:
    code = REWARD + "\n\ndef wrap_env(angle):\n    return angle\n"
    with pytest.raises(ValueError, match="uses wrap_env"):
        render_module(run=_run(), candidate=_candidate(code=code), card=get_card("CartPole-v1"))


PLAIN_SB3 = """
import json
import sys

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env

import exported_reward as reward


class Components(BaseCallback):
    # Every training step's infos: the components are there and sum to the reward.
    seen = 0

    def _on_step(self):
        for info, r in zip(self.locals["infos"], self.locals["rewards"]):
            parts = info["reward_components"]
            assert abs(sum(parts.values()) - r) < 1e-4, (parts, r)
            self.seen += 1
        return True


torch.set_num_threads(1)  # a small MLP: more threads only contend on a busy machine
venv = make_vec_env(reward.make_env, n_envs=2, seed=0)
model = PPO("MlpPolicy", venv, n_steps=256, batch_size=64, seed=0, device="cpu")
callback = Components()
model.learn(3072, callback=callback)

env = reward.wrap_env(__import__("gymnasium").make("CartPole-v1"))
obs, _ = env.reset(seed=1)
steps = []
for _ in range(50):
    action, _ = model.predict(obs, deterministic=True)
    obs, r, terminated, truncated, info = env.step(action)
    steps.append([r, info["reward_components"], info["env_reward"]])
    if terminated or truncated:
        obs, _ = env.reset()
service = [n for n in sys.modules if n == "app" or n.startswith("app.")]
print(json.dumps({"seen": callback.seen, "timesteps": model.num_timesteps, "steps": steps,
                  "service": service}))
"""


@pytest.mark.slow
def test_exported_reward_trains_plain_sb3_outside_rewardforge(tmp_path: Path) -> None:
    module = render_module(
        run=_run(task='up"""\nimport os; os.system("touch pwned.txt")\n"""'),
        candidate=_candidate(),
        card=get_card("CartPole-v1"),
    )
    (tmp_path / "exported_reward.py").write_text(module, encoding="utf-8")
    (tmp_path / "train.py").write_text(PLAIN_SB3)
    done = subprocess.run(
        [sys.executable, "train.py"], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["service"] == []  # trained without the service
    assert report["timesteps"] >= 3072 and report["seen"] >= 3072
    for reward, components, env_reward in report["steps"]:
        assert set(components) == {"upright"}
        assert components["upright"] == pytest.approx(reward) and env_reward == 1.0
    assert not (tmp_path / MARKER).exists()


TORCH_REWARD = """import torch

def compute_reward(state, action):
    upright = torch.cos(state["pole_angle"])
    centred = -0.1 * torch.abs(state["cart_position"])
    return upright + centred, {"upright": upright, "centred": centred}
"""


@pytest.mark.slow
def test_torch_reward_exports_and_pays_its_components(tmp_path: Path) -> None:
    module = render_module(
        run=_run(options={"reward_backend": "torch"}),
        candidate=_candidate(code=TORCH_REWARD),
        card=get_card("CartPole-v1"),
    )
    (tmp_path / "torch_reward_module.py").write_text(module, encoding="utf-8")
    script = (
        "import json, torch_reward_module as m\n"
        "env = m.make_env()\nenv.reset(seed=0)\nout = []\n"
        "for _ in range(5):\n"
        "    _, r, *_, info = env.step(env.action_space.sample())\n"
        "    out.append([r, info['reward_components']])\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for reward, parts in json.loads(done.stdout):
        assert set(parts) == {"upright", "centred"}
        assert sum(parts.values()) == pytest.approx(reward, abs=1e-5)
