"""The torch reward backend: candidate code gets tensors on the training device and
its tensors are held to the same contract as numpy arrays."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from envs import get_card
from sandbox.reward_code import RewardContractError, check_reward, load_reward
from sandbox.spec import RESULT_FILE, STATS_FILE
from sandbox.torch_reward import torch_reward
from sandbox.train import sample_states
from tests.sandbox.jobs import PENDULUM_REWARD, PENDULUM_TORCH_REWARD, pendulum_job, run_module

BATCH = 8


@pytest.fixture(scope="module")
def pendulum_batch() -> tuple[dict[str, np.ndarray], np.ndarray]:
    return sample_states(get_card("Pendulum-v1"), BATCH, seed=0)


def _torch_check(source: str, batch: tuple[dict[str, np.ndarray], np.ndarray]) -> tuple:
    state, action = batch
    return check_reward(torch_reward(load_reward(source), "cpu"), state, action)


def test_torch_reward_matches_the_numpy_one(pendulum_batch) -> None:
    state, action = pendulum_batch
    total, components = _torch_check(PENDULUM_TORCH_REWARD, pendulum_batch)
    want_total, want = check_reward(load_reward(PENDULUM_REWARD), state, action)
    assert total.dtype == np.float64 and total.shape == (BATCH,)
    np.testing.assert_allclose(total, want_total, rtol=1e-5, atol=1e-6)
    assert components.keys() == want.keys()
    for name in want:
        np.testing.assert_allclose(components[name], want[name], rtol=1e-5, atol=1e-6)


def test_reward_code_sees_float32_tensors_of_its_own(pendulum_batch) -> None:
    source = """
import torch

def compute_reward(state, action):
    x = state["uprightness"]
    assert isinstance(x, torch.Tensor) and x.dtype == torch.float32, (type(x), x.dtype)
    assert isinstance(action, torch.Tensor) and action.shape == (8, 1)
    x.zero_()  # a private copy: the env's state is untouched
    return x, {"zero": x}
"""
    state, _ = pendulum_batch
    before = state["uprightness"].copy()
    total, _ = _torch_check(source, pendulum_batch)
    assert not total.any()
    np.testing.assert_array_equal(state["uprightness"], before)


def test_wrong_tensor_shape_is_named_as_for_numpy(pendulum_batch) -> None:
    source = """
import torch

def compute_reward(state, action):
    effort = -torch.square(action)
    return effort, {"effort": effort}
"""
    with pytest.raises(RewardContractError, match=r"total has shape \(8, 1\), expected \(8,\)"):
        _torch_check(source, pendulum_batch)


def test_nan_tensor_names_the_env(pendulum_batch) -> None:
    source = """
import torch

def compute_reward(state, action):
    bad = state["uprightness"] / torch.zeros_like(state["uprightness"]) * 0.0
    return bad, {"bad": bad}
"""
    with pytest.raises(RewardContractError, match="is not finite for env 0"):
        _torch_check(source, pendulum_batch)


def test_pendulum_trains_on_a_torch_reward(tmp_path: Path) -> None:
    train, _ = pendulum_job(
        tmp_path / "torch", reward_code=PENDULUM_TORCH_REWARD, reward_backend="torch", device="auto"
    )
    done = run_module("sandbox.train", train, "train.json")
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "torch" / RESULT_FILE).read_text())
    assert result["status"] == "ok" and result["steps"] == 1024
    stats = json.loads((tmp_path / "torch" / STATS_FILE).read_text())
    assert stats["component_names"] == ["upright", "spin", "effort"]
    assert stats["episodes"] == 4


def test_torch_code_in_a_numpy_run_is_an_invalid_candidate(tmp_path: Path) -> None:
    train, _ = pendulum_job(tmp_path / "numpy", reward_code=PENDULUM_TORCH_REWARD)
    done = run_module("sandbox.train", train, "train.json")
    result = json.loads((tmp_path / "numpy" / RESULT_FILE).read_text())
    assert done.returncode == 3, done.stderr
    assert result["status"] == "invalid" and "smoke test failed" in result["error"]
