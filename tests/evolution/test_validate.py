"""The static gate: common mistakes become messages the next prompt can show."""

from __future__ import annotations

import pytest

from app.evolution.validate import MAX_CODE_BYTES, ValidationError, check_code

GOOD = """
import numpy as np
import math

SCALE = 2.0

def _speed(state):
    return np.abs(state["velocity"])

def compute_reward(state, action, scale=SCALE):
    speed = _speed(state) * scale
    effort = -0.1 * np.sum(np.square(action), axis=-1) * math.pi
    return speed + effort, {"speed": speed, "effort": effort}
"""


def test_gate_accepts_helpers_constants_and_allowed_imports() -> None:
    report = check_code(GOOD)
    assert report.functions == ("_speed", "compute_reward")
    assert set(report.imports) == {"numpy", "math"}


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("import os\ndef compute_reward(state, action):\n    return 0, {}", "import of 'os'"),
        (
            "from subprocess import run\ndef compute_reward(state, action):\n    return 0, {}",
            "import of 'subprocess'",
        ),
        ("def compute_reward(state, action):\n    return eval('1'), {}", "eval is not allowed"),
        (
            "def compute_reward(state, action):\n    open('/etc/passwd')\n    return 0, {}",
            "open is not allowed",
        ),
        (
            "def compute_reward(state, action):\n    x = ().__class__\n    return 0, {}",
            "dunder attribute",
        ),
        ("def compute_reward(state, action):\n    return __builtins__, {}", "__builtins__"),
        (
            "def reward(state, action):\n    return 0, {}",
            "no top-level function named compute_reward",
        ),
        ("def compute_reward(obs):\n    return 0, {}", "must take (state, action)"),
        ("def compute_reward(state, action):\n    pass", "never returns"),
        ("def compute_reward(state, action)\n    return 0", "syntax error at line 1"),
        ("x = 0\ndef compute_reward(state, action):\n    global x\n    return 0, {}", "global"),
    ],
)
def test_gate_rejects_with_a_clear_message(code: str, message: str) -> None:
    with pytest.raises(ValidationError, match=None) as caught:
        check_code(code)
    assert message in str(caught.value)


def test_gate_lists_every_problem_once() -> None:
    code = "import os\nimport sys\ndef compute_reward(state, action):\n    return 0, {}"
    with pytest.raises(ValidationError) as caught:
        check_code(code)
    lines = str(caught.value).splitlines()
    assert len(lines) == 2 and "'os'" in lines[0] and "'sys'" in lines[1]


def test_gate_caps_the_size() -> None:
    code = GOOD + "\n" + "# padding\n" * (MAX_CODE_BYTES // 10 + 1)
    with pytest.raises(ValidationError, match="bytes"):
        check_code(code)


TORCH = """
import torch

def compute_reward(state, action):
    speed = torch.abs(state["velocity"])
    return speed, {"speed": speed}
"""


def test_torch_is_refused_in_a_numpy_run_with_the_option_named() -> None:
    with pytest.raises(ValidationError, match="reward_backend=torch"):
        check_code(TORCH)


def test_torch_backend_admits_torch() -> None:
    assert check_code(TORCH, "torch").imports == ("torch",)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('    speed = torch.load("/etc/passwd")', "torch's load is not allowed"),
        ('    torch.save(speed, "/tmp/x")', "torch's save is not allowed"),
        ("    speed = torch.ops.aten.abs(speed)", "torch's ops is not allowed"),
        ("    speed = torch._C._nn.relu(speed)", "private attribute access (_C)"),
        ("    torch.hub.load('a', 'b')", "torch's hub is not allowed"),
        ("    from torch import load", "torch's load is not allowed"),
    ],
)
def test_torch_backend_refuses_files_natives_and_privates(line: str, message: str) -> None:
    code = TORCH.replace(
        '    return speed, {"speed": speed}', f'{line}\n    return speed, {{"speed": speed}}'
    )
    with pytest.raises(ValidationError) as caught:
        check_code(code, "torch")
    assert message in str(caught.value)


def test_torch_jit_decorator_is_refused_with_a_reason() -> None:
    code = TORCH.replace("def compute_reward", "@torch.jit.script\ndef compute_reward")
    with pytest.raises(ValidationError, match="drop the decorator"):
        check_code(code, "torch")
