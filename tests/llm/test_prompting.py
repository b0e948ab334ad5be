"""The prompt rendered from prompts/ for a real env card."""

from __future__ import annotations

import json

import pytest

from app.llm.prompting import (
    PROMPTS_DIR,
    Reflection,
    build_messages,
    format_stat_line,
    stat_lines,
    summarize_errors,
)
from envs import get_card

TASK = "drive the car up the right hill and reach the flag"
PARENT = "def compute_reward(state, action):\n    return state['velocity'], {}\n"


def checkpoint(steps: int, forward: float, fitness: float) -> dict:
    """One checkpoint in the sandbox's stats.json shape."""
    spread = {"min": forward - 1, "max": forward + 1}
    return {
        "steps": steps,
        "episodes": 4,
        "length": {"mean": 999.0, "min": 999, "max": 999},
        "reward": {"mean": forward - 0.5, "min": 0.0, "max": 9.0},
        "env_reward": {"mean": -20.0, "min": -30.0, "max": -10.0},
        "fitness": {"mean": fitness, "min": 0.0, "max": 1.0},
        "components": {
            "forward": {"mean": forward, **spread},
            "ctrl_cost": {"mean": -0.5, "min": -0.6, "max": -0.4},
        },
    }


STATS = {
    "version": 1,
    "correlation": 0.12,
    "checkpoints": [
        checkpoint(1000, 1.0, -0.5),
        {"steps": 2000, "episodes": 0},  # no episode finished before this one
        checkpoint(3000, 2.5, 0.1),
        checkpoint(4000, 4.0, 0.3),
    ],
}


def first_prompt() -> list[dict[str, str]]:
    card = get_card("MountainCarContinuous-v0")
    return build_messages(card=card, metric=card.default_metric, task=TASK, reflection=None)


def test_first_prompt_is_a_system_and_a_user_message():
    system, user = first_prompt()
    assert (system["role"], user["role"]) == ("system", "user")
    assert "reward engineer" in system["content"]
    assert (
        "def compute_reward(state: dict[str, np.ndarray], action: np.ndarray)" in system["content"]
    )
    assert json.loads(json.dumps(first_prompt())) == first_prompt()  # stored as JSON


def test_output_rules_state_the_contract():
    rules = first_prompt()[0]["content"]
    for phrase in (
        "```python",
        "shape (B,)",
        "sum of the components",
        "`numpy`",
        "`math`",
        "helper functions",
        "similar scales",
        "temperature parameter",
        "finite",
    ):
        assert phrase in rules, phrase


def test_user_message_holds_the_state_table_the_task_and_the_metric():
    card = get_card("MountainCarContinuous-v0")
    user = first_prompt()[1]["content"]
    assert "| name | shape | unit | meaning |" in user
    for var in card.state_vars:
        assert f"| `{var.name}` |" in user
    assert "| `obs` | (B, 2) |" in user and "| `position` | (B,) |" in user
    assert f"Write a reward function for the following task: {TASK}" in user
    metric = card.default_metric
    assert metric.description.strip() in user and f"`{metric.name}`" in user
    assert card.action_description.strip() in user


def test_rendered_prompt_has_no_template_syntax_left():
    card = get_card("HalfCheetah-v5")
    reflection = Reflection(parent_code=PARENT, parent_stats=STATS, errors=["x"], feedback=["y"])
    for message in build_messages(
        card=card, metric=card.default_metric, task="run", reflection=reflection
    ):
        assert "{{" not in message["content"] and "{%" not in message["content"]


def test_reflection_shows_the_parent_its_statistics_and_fitness():
    card = get_card("MountainCarContinuous-v0")
    reflection = Reflection(
        parent_code=PARENT, parent_fitness=0.3, parent_success_rate=0.25, parent_stats=STATS
    )
    messages = build_messages(
        card=card, metric=card.default_metric, task=TASK, reflection=reflection
    )
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert PARENT.strip() in messages[2]["content"]
    feedback = messages[3]["content"]
    assert "at 3 checkpoints" in feedback
    assert "forward: ['1.00', '2.50', '4.00'], Max: 4.00, Mean: 2.50, Min: 1.00" in feedback
    assert "ctrl_cost: ['-0.50', '-0.50', '-0.50']" in feedback
    assert "fitness: ['-0.50', '0.10', '0.30']" in feedback
    assert "episode_length: ['999.00'" in feedback and "env_reward:" in feedback
    assert "= 0.30 (higher is better), success rate 25%" in feedback
    assert "0.12 (the reward does not track the metric)" in feedback
    assert "nearly identical throughout training" in feedback  # Eureka's advice
    assert "Answer with exactly one fenced Python block" in feedback  # the rules again


def test_reflection_without_statistics_says_so():
    card = get_card("MountainCarContinuous-v0")
    reflection = Reflection(parent_code=PARENT, parent_stats={"checkpoints": [{"steps": 5}]})
    feedback = build_messages(
        card=card, metric=card.default_metric, task=TASK, reflection=reflection
    )[-1]["content"]
    assert "no training statistics were recorded" in feedback
    assert "success rate not measured" in feedback and "Correlation" not in feedback


def test_other_candidates_errors_are_listed_once_each():
    card = get_card("MountainCarContinuous-v0")
    errors = ["NameError: name 'speed' is not defined"] * 3 + ["total has shape (8, 1)"]
    reflection = Reflection(parent_code=PARENT, parent_stats=STATS, errors=errors)
    feedback = build_messages(
        card=card, metric=card.default_metric, task=TASK, reflection=reflection
    )[-1]["content"]
    assert feedback.count("NameError: name 'speed' is not defined") == 1
    assert "total has shape (8, 1)" in feedback
    assert "Other reward functions written in the last iteration failed" in feedback


def test_all_failed_iteration_asks_for_a_fresh_reward_without_a_parent():
    card = get_card("MountainCarContinuous-v0")
    reflection = Reflection(errors=["SyntaxError: invalid syntax (line 3)"])
    messages = build_messages(
        card=card, metric=card.default_metric, task=TASK, reflection=reflection
    )
    assert [m["role"] for m in messages] == ["system", "user", "user"]
    assert "No reward function of the last iteration could be trained" in messages[-1]["content"]
    assert "SyntaxError: invalid syntax (line 3)" in messages[-1]["content"]


def test_human_feedback_preferences_and_parent_choice_are_rendered():
    card = get_card("MountainCarContinuous-v0")
    reflection = Reflection(
        parent_code=PARENT,
        parent_stats=STATS,
        feedback=["the car rocks too long before climbing"],
        preferences=[("candidate 2 (fitness 0.4)", "candidate 0 (fitness 0.5)")],
        parent_chosen_by_human=True,
    )
    feedback = build_messages(
        card=card, metric=card.default_metric, task=TASK, reflection=reflection
    )[-1]["content"]
    assert '"the car rocks too long before climbing"' in feedback
    assert (
        "preferred the behaviour of candidate 2 (fitness 0.4) over that of candidate 0" in feedback
    )
    assert "chose the reward function above as the starting point" in feedback


def test_no_feedback_section_without_feedback():
    card = get_card("MountainCarContinuous-v0")
    reflection = Reflection(parent_code=PARENT, parent_stats=STATS)
    feedback = build_messages(
        card=card, metric=card.default_metric, task=TASK, reflection=reflection
    )[-1]["content"]
    assert "Feedback from the person" not in feedback


def test_lower_is_better_metric_is_explained_as_such():
    card = get_card("Reacher-v5")
    user = build_messages(card=card, metric=card.default_metric, task="reach", reflection=None)[1]
    assert "lower is better" in user["content"] and "at most" in user["content"]


def test_empty_task_is_refused():
    card = get_card("CartPole-v1")
    with pytest.raises(ValueError, match="task description is empty"):
        build_messages(card=card, metric=card.default_metric, task="  ", reflection=None)


def test_stat_line_has_eureka_format():
    line = format_stat_line("forward", [1.234, 2.456, 3.1])
    assert line == "forward: ['1.23', '2.46', '3.10'], Max: 3.10, Mean: 2.26, Min: 1.23"
    assert format_stat_line("tiny", [0.0012]).startswith("tiny: ['0.0012']")


def test_stat_lines_skip_missing_and_malformed_entries():
    stats = {
        "checkpoints": [
            {"components": {"a": {"mean": None}, "b": {"mean": 1.0}}},
            {"components": ["not", "a", "dict"], "fitness": "high"},
            "junk",
        ]
    }
    assert stat_lines(stats) == ["b: ['1.00'], Max: 1.00, Mean: 1.00, Min: 1.00"]
    assert stat_lines({}) == []


def test_long_errors_keep_their_last_line():
    traceback = "Traceback (most recent call last):\n" + "  frame\n" * 200 + "ValueError: bad"
    [short] = summarize_errors([traceback], max_chars=200)
    assert len(short) < 220 and short.endswith("ValueError: bad")


def test_every_template_is_versioned():
    names = sorted(p.name for p in PROMPTS_DIR.glob("*.j2"))
    assert names and all(name.endswith(".v1.j2") for name in names)
