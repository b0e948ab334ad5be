"""Identical reward code (after normalisation: comments, docstrings and layout
do not count) is trained once per run, within an iteration and across them."""

from __future__ import annotations

import os
from pathlib import Path

from app.execution.local import LocalExecutor
from envs import get_card
from tests.evolution.runs import MOUNTAIN_CAR, new_run
from tests.fake_llm import FakeLLMServer, Reply, good_reward_response


def test_identical_code_is_trained_once_per_run(tmp_path: Path, fake_llm: FakeLLMServer) -> None:
    card = get_card(MOUNTAIN_CAR["env_id"])
    answer = good_reward_response(card)
    same_code = answer.replace(
        "    total = progress + effort_penalty\n",
        "\n    # the components add up to the total, as the contract asks\n"
        "    total = progress + effort_penalty\n",
    ).replace("The task metric is the main signal", "Progress on the metric comes first")
    assert same_code != answer
    fake_llm.enqueue(Reply([answer, same_code]), Reply([same_code, answer]))
    tiny = new_run(
        tmp_path / "data",
        iterations=2,
        samples=2,
        llm={"model": fake_llm.model, "base_url": fake_llm.base_url},
    )

    assert tiny.execute(LocalExecutor(2)) == "succeeded"

    rows = sorted(tiny.candidates(), key=lambda c: (c.iteration_index, c.sample_index))
    assert len(rows) == 4 and len(fake_llm.chat_requests) == 2
    assert len({c.code_hash for c in rows}) == 1
    assert len({c.code for c in rows}) == 2  # two spellings of one reward
    [trained] = [c for c in rows if c.duplicate_of is None]
    assert (trained.iteration_index, trained.sample_index, trained.attempts) == (0, 0, 1)
    for index, twin in enumerate(rows):
        assert twin.status == "done"
        assert (twin.fitness, twin.env_steps, twin.artifact_dir) == (
            trained.fitness,
            trained.env_steps,
            trained.artifact_dir,
        )
        if twin.id != trained.id:  # it names an earlier candidate with its code
            assert twin.duplicate_of in {c.id for c in rows[:index]} and twin.attempts == 0
    assert [d["key"] for d in tiny.seen("candidate.started")] == [trained.id]
    assert os.listdir(tiny.data_dir / "artifacts" / tiny.run_id) == [trained.id]
