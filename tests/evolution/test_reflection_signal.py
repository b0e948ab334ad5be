"""Reflection with more signal: the prompt states how candidates train, shows every
candidate of the last iteration, what earlier iterations tried, and flags components
that never change."""

from __future__ import annotations

from pathlib import Path

from app.db.models import Candidate, Iteration
from app.evolution.search_history import (
    behaviour_text,
    candidate_line,
    constant_components,
    search_so_far,
)
from app.llm.prompting import Reflection, SearchSoFar, TrainingSetup, build_messages
from envs import get_card
from tests.evolution.runs import new_run
from tests.evolution.scripted import ScriptedExecutor, reward_code
from tests.fake_llm import FakeLLMServer, Reply


def _checkpoint(steps: int, forward: float) -> dict:  # type: ignore[type-arg]
    return {
        "steps": steps,
        "episodes": 2,
        "components": {"forward": {"mean": forward}, "alive": {"mean": 1000.0}},
    }


STATS = {"correlation": 0.85, "checkpoints": [_checkpoint(500, 1.0), _checkpoint(1000, 12.5)]}


def test_a_candidate_line_has_fitness_status_rung_final_components_and_correlation() -> None:
    done = Candidate(
        sample_index=2, status="done", fitness=0.41, success_rate=0.2, stats=STATS, evaluation={}
    )
    line = candidate_line(done)
    assert line.startswith("candidate 2: fitness 0.41, success 20%, done (full budget)")
    assert "forward 12.50, alive 1000.00 (never changes)" in line
    assert "reward/fitness correlation 0.85" in line
    stopped = Candidate(
        sample_index=0,
        status="stopped",
        fitness=0.1,
        success_rate=0.0,
        stats={},
        evaluation={"halving": {"rung": 0, "rungs": 3, "budget": 250, "kept": False}},
    )
    assert "stopped by halving after rung 1/3 (250 env steps)" in candidate_line(stopped)
    assert constant_components(STATS) == ["alive"]


FELL = {
    "episodes": 5,
    "episode_length": [40, 60, 50, 1000, 50],
    "behaviour": {"ended_early": 4, "state_means": {"torso_height": 1.1, "x_velocity": None}},
}


def test_behaviour_from_the_trusted_evaluation_reaches_the_lines_and_the_prompt() -> None:
    hopper = Candidate(
        sample_index=1, status="done", fitness=0.3, success_rate=0.0, stats={}, evaluation=FELL
    )
    assert "4 of 5 evaluation episodes ended early" in candidate_line(hopper)
    text = behaviour_text(FELL)
    assert text == (
        "4 of 5 episodes ended early (the env ended them, e.g. a fall), mean length 240 "
        "steps; mean over every step: torso_height 1.10"
    )
    assert behaviour_text({}) is None and behaviour_text({"episodes": 5}) is None
    card = get_card("Hopper-v5")
    reflection = Reflection(
        parent_code="def compute_reward(state, action):\n    return state['x_velocity'], {}\n",
        search=SearchSoFar(parent_behaviour=text),
    )
    messages = build_messages(
        card=card, metric=card.default_metric, task="hop", reflection=reflection
    )
    assert (
        f"How the parent's trained policy behaved in the trusted evaluation: {text}."
        in (messages[-1]["content"])
    )


def test_the_history_follows_the_parents_lineage_through_earlier_iterations() -> None:
    def row(i: int, s: int, fitness: float, parent: str | None = None) -> Candidate:
        return Candidate(
            id=f"c{i}{s}",
            iteration_index=i,
            sample_index=s,
            status="done",
            fitness=fitness,
            parent_id=parent,
            stats=STATS if s == 0 else {},
            evaluation={},
        )

    rows = [row(0, 0, 0.3), row(0, 1, 0.9), row(1, 0, 0.5, "c00"), row(1, 1, 0.2, "c00")]
    summary = search_so_far(rows, index=2, parent=rows[2])
    assert len(summary.last_iteration) == 2
    [line] = summary.history
    assert line.startswith("iteration 0: 2 candidates, fitness 0.30 to 0.90")
    assert "the parent's ancestor, candidate 0 (fitness 0.30), used: forward, alive" in line
    assert summary.constant_components == ["alive"]  # the parent's own flat term


def test_the_rendered_prompt_states_the_setup_the_candidates_and_the_constant_terms() -> None:
    card = get_card("MountainCarContinuous-v0")
    reflection = Reflection(
        parent_code="def compute_reward(state, action):\n    return state['velocity'], {}\n",
        parent_fitness=0.4,
        parent_stats=STATS,
        setup=TrainingSetup("PPO", 20000, 8, 2000, (5000, 10000, 20000)),
        search=SearchSoFar(
            last_iteration=["candidate 0: fitness 0.40", "candidate 1: invalid (validation)"],
            history=["iteration 0: 2 candidates, fitness 0.10 to 0.20"],
            constant_components=["alive"],
        ),
    )
    messages = build_messages(
        card=card, metric=card.default_metric, task="reach the flag", reflection=reflection
    )
    text = messages[-1]["content"]
    assert "PPO from Stable-Baselines3 for 20000 environment steps in all, on 8 parallel" in text
    assert "about every 2000 environment steps" in text
    assert "all train to 5000 steps" in text and "to 10000, then 20000 steps" in text
    assert "- candidate 1: invalid (validation)" in text
    assert "What earlier iterations tried (newest first):\n- iteration 0:" in text
    assert "never changed during training, so the policy could not learn from them: alive" in text
    # the old prompt, without the new signal, renders as before
    plain = build_messages(
        card=card,
        metric=card.default_metric,
        task="reach the flag",
        reflection=Reflection(parent_code="def compute_reward(s, a):\n    return 0, {}\n"),
    )
    assert "environment steps in all" not in plain[-1]["content"]


def test_the_loop_sends_the_setup_and_the_whole_search_to_the_llm(tmp_path: Path) -> None:
    answers = [
        f"```python\n{reward_code(f, tag=str(f))}```\n" for f in (0.9, 0.2, 0.5, 0.3, 0.1, 0.7)
    ]
    with FakeLLMServer(default=Reply(answers)) as llm:
        tiny = new_run(
            tmp_path / "data",
            iterations=3,
            samples=2,
            llm={"model": "fake-model", "base_url": llm.base_url},
        )
        assert tiny.execute(ScriptedExecutor()) == "succeeded"
        sent = "\n".join(m["content"] for m in llm.chat_requests[2]["messages"])
    assert "for 1024 environment steps in all, on 8 parallel environment(s)" in sent
    assert "about every 102 environment steps" in sent
    assert "Every candidate of the last iteration" in sent
    assert "What earlier iterations tried (newest first):\n- iteration 0: 2 candidates" in sent
    with tiny.factory() as session:
        stored = session.query(Iteration).filter_by(run_id=tiny.run_id, index=2).one()
        assert stored.messages == llm.chat_requests[2]["messages"]
