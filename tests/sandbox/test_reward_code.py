"""The reward contract: what load_reward and check_reward accept, and the messages
they give for everything they refuse."""

from __future__ import annotations

import numpy as np
import pytest

from envs import get_card
from sandbox.reward_code import RewardContractError, check_reward, load_reward
from sandbox.train import sample_states
from tests.sandbox.jobs import HALF_CHEETAH_REWARD, PENDULUM_REWARD

BATCH = 8


@pytest.fixture(scope="module")
def cheetah_batch() -> tuple[dict[str, np.ndarray], np.ndarray]:
    return sample_states(get_card("HalfCheetah-v5"), BATCH, seed=0)


def _check(source: str, batch: tuple[dict[str, np.ndarray], np.ndarray]) -> tuple:
    state, action = batch
    return check_reward(load_reward(source), state, action)


def _reward(body: str) -> str:
    """A compute_reward whose body ends by returning (total, components)."""
    lines = "\n".join(f"    {line}" for line in body.strip().splitlines())
    return f"import numpy as np\n\ndef compute_reward(state, action):\n{lines}\n"


def test_good_reward_returns_total_and_components(cheetah_batch) -> None:
    total, components = _check(HALF_CHEETAH_REWARD, cheetah_batch)
    state, action = cheetah_batch
    assert total.shape == (BATCH,)
    assert set(components) == {"forward", "ctrl_cost"}
    np.testing.assert_allclose(components["forward"], state["x_velocity"])
    np.testing.assert_allclose(total, components["forward"] + components["ctrl_cost"])


def test_reward_of_another_env_fails_with_the_missing_key() -> None:
    batch = sample_states(get_card("HalfCheetah-v5"), BATCH, seed=0)
    with pytest.raises(RewardContractError, match=r"KeyError: 'uprightness' \(line 5: `upright"):
        _check(PENDULUM_REWARD, batch)


def test_syntax_error_names_the_line() -> None:
    with pytest.raises(RewardContractError, match=r"syntax error at line 2") as err:
        load_reward("def compute_reward(state, action):\n    return (1,\n")
    assert "line 2" in str(err.value)


def test_missing_function_says_what_to_define() -> None:
    with pytest.raises(RewardContractError, match="no function named compute_reward"):
        load_reward("def reward(state, action):\n    return 0\n")


def test_wrong_signature_is_refused() -> None:
    with pytest.raises(RewardContractError, match=r"compute_reward\(state\) cannot be called"):
        load_reward("def compute_reward(state):\n    return 0\n")


def test_module_level_error_is_reported() -> None:
    with pytest.raises(RewardContractError, match="module-level code raised ModuleNotFoundError"):
        load_reward("import not_a_module_xyz\ndef compute_reward(state, action):\n    pass\n")


def test_scalar_total_says_expected_shape(cheetah_batch) -> None:
    source = _reward('f = state["x_velocity"]\nreturn np.mean(f), {"forward": f}')
    with pytest.raises(RewardContractError, match=r"total is a numpy scalar .*expected .*\(8,\)"):
        _check(source, cheetah_batch)


def test_zero_dimensional_total_says_expected_shape(cheetah_batch) -> None:
    source = _reward('f = state["x_velocity"]\nreturn np.array(1.0), {"forward": f}')
    with pytest.raises(RewardContractError, match=r"total has shape \(\), expected \(8,\)"):
        _check(source, cheetah_batch)


def test_unreduced_component_shape_is_named(cheetah_batch) -> None:
    source = _reward(
        'c = -np.square(action)\nf = state["x_velocity"]\n'
        'return f + c.sum(axis=-1), {"forward": f, "ctrl": c}'
    )
    with pytest.raises(RewardContractError, match=r"components\['ctrl'\] has shape \(8, 6\)"):
        _check(source, cheetah_batch)


def test_python_float_total_is_refused(cheetah_batch) -> None:
    source = _reward('return 1.0, {"bonus": np.ones(state["x_velocity"].shape[0])}')
    with pytest.raises(RewardContractError, match="total is a float, expected a numpy array"):
        _check(source, cheetah_batch)


def test_missing_components_dict_is_refused(cheetah_batch) -> None:
    source = _reward('return state["x_velocity"] * 1.0, {}')
    with pytest.raises(RewardContractError, match="components must be a non-empty dict"):
        _check(source, cheetah_batch)


def test_single_return_value_is_refused(cheetah_batch) -> None:
    source = _reward('return state["x_velocity"] * 1.0')
    with pytest.raises(RewardContractError, match=r"must return a tuple \(total, components\)"):
        _check(source, cheetah_batch)


def test_nan_component_names_the_env_and_values(cheetah_batch) -> None:
    source = _reward(
        'bad = np.zeros(action.shape[0])\nbad[3] = np.nan\nf = state["x_velocity"]\n'
        'return f + bad, {"forward": f, "bad": bad}'
    )
    with pytest.raises(RewardContractError) as err:
        _check(source, cheetah_batch)
    assert "total is not finite for env 3" in str(err.value)
    assert "bad=nan" in str(err.value)
    assert err.value.env_index == 3


def test_components_that_do_not_sum_to_total_are_refused(cheetah_batch) -> None:
    source = _reward(
        'f = state["x_velocity"]\nc = -np.sum(np.square(action), axis=-1)\n'
        'return f + 0.5 * c, {"forward": f, "ctrl": c}'
    )
    with pytest.raises(RewardContractError, match="components do not sum to total for env"):
        _check(source, cheetah_batch)


def test_writing_into_state_is_refused(cheetah_batch) -> None:
    source = _reward('v = state["x_velocity"]\nv += 1.0\nreturn v, {"forward": v}')
    with pytest.raises(RewardContractError, match="read-only, copy before changing one"):
        _check(source, cheetah_batch)


def test_unlocking_and_mutating_state_is_caught(cheetah_batch) -> None:
    source = _reward(
        'q = state["joint_angles"]\nq.setflags(write=True)\nq[:] = 0.0\n'
        'f = state["x_velocity"]\nreturn f * 1.0, {"forward": f}'
    )
    with pytest.raises(RewardContractError, match=r"modified state\['joint_angles'\] in place"):
        _check(source, cheetah_batch)


def test_exception_points_at_the_candidate_line(cheetah_batch) -> None:
    source = _reward('f = state["x_velocity"]\nraise ZeroDivisionError("boom")\nreturn f, {"f": f}')
    with pytest.raises(
        RewardContractError, match=r"ZeroDivisionError: boom \(line 5: `raise ZeroDivisionError"
    ):
        _check(source, cheetah_batch)
