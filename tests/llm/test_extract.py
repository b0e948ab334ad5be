"""Code extraction from responses written the way models write them."""

from __future__ import annotations

import ast

import numpy as np
import pytest

from app.llm.extract import ExtractionError, code_hash, extract_code, normalize_code

REWARD = """\
import numpy as np


def compute_reward(state, action):
    forward = state["x_velocity"]
    ctrl_cost = -0.1 * np.sum(np.square(action), axis=1)
    return forward + ctrl_cost, {"forward": forward, "ctrl_cost": ctrl_cost}
"""


def run_reward(code: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Execute extracted code on a small batch and return its output."""
    namespace: dict = {}
    exec(compile(code, "<reward>", "exec"), namespace)
    state = {"x_velocity": np.array([1.0, 2.0]), "qpos": np.zeros((2, 8))}
    return namespace["compute_reward"](state, np.ones((2, 6)))


def test_code_is_taken_from_a_python_block_between_prose():
    text = f"Sure! Here is a reward function:\n\n```python\n{REWARD}```\n\nIt rewards speed."
    assert extract_code(text) == REWARD


def test_block_without_language_tag_is_used():
    text = f"The reward:\n```\n{REWARD}```\nDone."
    assert extract_code(text) == REWARD


@pytest.mark.parametrize("tag", ["py", "python3", "Python", "{.python}"])
def test_language_tag_variants_are_accepted(tag: str):
    assert extract_code(f"```{tag}\n{REWARD}```") == REWARD


def test_last_defining_block_wins_and_usage_example_is_ignored():
    draft = REWARD.replace("-0.1", "-1.0")
    text = (
        f"First attempt:\n```python\n{draft}```\nOn reflection the penalty is too large.\n"
        f"```python\n{REWARD}```\nUse it like this:\n"
        "```python\ntotal, parts = compute_reward(state, action)\n```\n"
    )
    assert extract_code(text) == REWARD


def test_helpers_from_other_blocks_are_prepended_only_when_used():
    text = (
        "Helpers first:\n```python\nimport numpy as np\n\nTEMPERATURE = 0.5\n\n"
        "def speed_bonus(v):\n    return np.tanh(v / TEMPERATURE)\n\n"
        "def unused_helper(x):\n    return x\n```\n"
        "And the reward:\n```python\ndef compute_reward(state, action):\n"
        "    bonus = speed_bonus(state['x_velocity'])\n    return bonus, {'bonus': bonus}\n```"
    )
    code = extract_code(text)
    assert "def speed_bonus" in code and "TEMPERATURE = 0.5" in code
    assert "unused_helper" not in code
    total, parts = run_reward(code)
    np.testing.assert_allclose(total, np.tanh(np.array([1.0, 2.0]) / 0.5))


def test_unfenced_code_after_prose_is_found_and_trailing_prose_dropped():
    text = f"Here is my answer.\n\n{REWARD}\nThis encourages running forward cheaply.\n"
    code = extract_code(text)
    assert ast.parse(code) and "This encourages" not in code
    total, _ = run_reward(code)
    assert total.shape == (2,)


def test_prose_between_unfenced_helpers_and_the_function_is_dropped():
    text = (
        "Here is my answer.\n\nimport numpy as np\n\nTEMPERATURE = 0.3\n\n"
        "Now the main function, which uses the constant:\n\n"
        "def compute_reward(state, action):\n    v = np.tanh(state['x_velocity'] / TEMPERATURE)\n"
        "    return v, {'speed': v}\n\nHope this helps!\n"
    )
    code = extract_code(text)
    assert "Now the main" not in code and "Hope" not in code and "TEMPERATURE = 0.3" in code
    total, _ = run_reward(code)
    np.testing.assert_allclose(total, np.tanh(np.array([1.0, 2.0]) / 0.3))


def test_thinking_sections_are_dropped():
    draft = "```python\ndef compute_reward(state, action):\n    return 0, {}\n```"
    text = f"<think>\nMaybe this:\n{draft}\nNo, use velocity.\n</think>\n```python\n{REWARD}```"
    assert extract_code(text) == REWARD


def test_closing_think_tag_without_opening_tag_drops_the_reasoning_before_it():
    text = f"Let me think about it... def compute_reward(x)\n</think>\n\n```python\n{REWARD}```"
    assert extract_code(text) == REWARD


def test_windows_newlines_and_tab_indentation_give_runnable_code():
    text = ("```python\r\n" + REWARD.replace("    ", "\t") + "```\r\n").replace("\n", "\r\n")
    code = extract_code(text)
    assert "\r" not in code and "\t" not in code
    total, parts = run_reward(code)
    np.testing.assert_allclose(total, parts["forward"] + parts["ctrl_cost"])


def test_no_break_spaces_in_indentation_are_repaired():
    text = "```python\n" + REWARD.replace("    ", "\u00a0\u00a0\u00a0\u00a0") + "```"
    run_reward(extract_code(text))


def test_block_indented_inside_a_list_item_is_dedented():
    indented = "".join(f"   {line}" if line.strip() else line for line in REWARD.splitlines(True))
    text = f"1. The reward:\n   ```python\n{indented}   ```\n2. Train it."
    assert extract_code(text) == REWARD


def test_missing_numpy_import_is_added():
    code = extract_code("```python\n" + REWARD.replace("import numpy as np\n", "") + "```")
    assert code.startswith("import numpy as np")
    run_reward(code)


def test_main_guard_demo_is_removed():
    demo = 'if __name__ == "__main__":\n    print(compute_reward({}, None))\n'
    code = extract_code(f"```python\n{REWARD}\n{demo}```")
    assert "__main__" not in code and "print" not in code


def test_unclosed_fence_at_end_of_a_truncated_response_still_yields_the_code():
    assert extract_code(f"Here:\n```python\n{REWARD}") == REWARD


def test_unparseable_code_is_returned_for_the_validator_to_report():
    broken = "def compute_reward(state, action):\n    return (state['x']\n"
    code = extract_code(f"```python\n{broken}```")
    with pytest.raises(SyntaxError):
        ast.parse(code)


def test_prose_without_code_is_refused_clearly():
    text = "To make the cheetah run, reward forward velocity and penalise large torques."
    with pytest.raises(ExtractionError, match="no Python code defining compute_reward"):
        extract_code(text)


def test_code_defining_another_function_is_refused_with_its_name():
    text = "```python\ndef reward_fn(obs):\n    return obs[0]\n```"
    with pytest.raises(ExtractionError, match="defines reward_fn instead"):
        extract_code(text)


def test_empty_response_is_refused():
    with pytest.raises(ExtractionError, match="empty"):
        extract_code("  \n")


def test_normalization_ignores_comments_docstrings_and_formatting():
    variant = (
        '"""Reward module."""\nimport numpy as np\ndef compute_reward(state,action):\n'
        '    """Run fast."""\n    forward=state["x_velocity"]  # speed\n'
        "    ctrl_cost = -0.1*np.sum(np.square(action),axis=1)\n"
        '    return forward+ctrl_cost, {"forward":forward,"ctrl_cost":ctrl_cost}\n'
    )
    assert normalize_code(variant) == normalize_code(REWARD)
    assert code_hash(variant) == code_hash(REWARD)


def test_different_weights_give_different_hashes():
    assert code_hash(REWARD) != code_hash(REWARD.replace("-0.1", "-0.2"))


def test_unparseable_code_still_gets_a_stable_hash():
    broken = "def compute_reward(:\n"
    assert code_hash(broken) == code_hash(broken + "\n\n") != code_hash("def compute_reward(x:\n")
