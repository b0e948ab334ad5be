"""Selection robust to noise: the top-k search candidates train again on fresh seeds
before the final test, and the best mean is finalised."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.db.candidates import best_candidate
from app.db.models import Run
from app.evolution.export import export_module
from app.evolution.finalize import RESELECT_SEED_BASE
from app.execution.executor import CandidateJob
from tests.evolution.runs import TinyRun, new_run
from tests.evolution.scripted import ScriptedExecutor, reward_code, scripted_fitness
from tests.fake_llm import FakeLLMServer, Reply


def _answer(code: str) -> str:
    return f"Here is the reward.\n\n```python\n{code}```\n"


def _lucky_on_one_seed(job: CandidateJob) -> float:
    """The search's 0.9 was luck: on any other seed its reward scores 0.1."""
    fitness = scripted_fitness(job)
    if job.train.reward_code is not None and job.train.seed >= RESELECT_SEED_BASE:
        return 0.1 if fitness == 0.9 else fitness
    return fitness


def _run(tmp_path: Path, llm: FakeLLMServer, **options: Any) -> TinyRun:
    return new_run(
        tmp_path / "data",
        llm={"model": "fake-model", "base_url": llm.base_url},
        iterations=1,
        samples=3,
        final_seeds=2,
        options={"eval_episodes": 1, "video": False, "halving": False, **options},
    )


def _stored(tiny: TinyRun) -> Run:
    with tiny.factory() as session:
        run = session.get(Run, tiny.run_id)
        assert run is not None
        return run


def test_a_single_seed_winner_that_was_luck_loses_the_reselection(tmp_path: Path) -> None:
    answers = [_answer(reward_code(f, tag=str(f))) for f in (0.9, 0.8, 0.2)]
    with FakeLLMServer(default=Reply(answers)) as llm:
        tiny = _run(tmp_path, llm, final_top_k=2)
        executor = ScriptedExecutor(_lucky_on_one_seed)
        assert tiny.execute(executor) == "succeeded"
    search = {c.fitness: c for c in tiny.candidates() if c.kind == "search"}
    run = _stored(tiny)
    chosen = run.final["reselection"]
    assert chosen["top_k"] == 2 and chosen["winner_changed"] is True
    assert chosen["search_winner_id"] == search[0.9].id
    assert chosen["winner_id"] == run.best_candidate_id == search[0.8].id
    by_id = {row["id"]: row for row in chosen["candidates"]}
    assert by_id[search[0.9].id]["fitness"] == [0.1, 0.1]
    assert by_id[search[0.8].id]["mean"] == 0.8
    # fresh seeds, 2 per top candidate; the 0.2 candidate was not retrained
    reselected = [c for c in tiny.candidates() if c.kind == "reselect"]
    assert sorted(c.seed for c in reselected) == [2000, 2000, 2001, 2001]
    assert {c.parent_id for c in reselected} == {search[0.9].id, search[0.8].id}
    # the final test and the export use the reselected reward
    finals = [c for c in tiny.candidates() if c.kind == "final"]
    assert {c.parent_id for c in finals if c.reward_source == "candidate"} == {search[0.8].id}
    assert run.final["candidate"]["mean"] == 0.8
    with tiny.factory() as session:
        assert "SCRIPTED_FITNESS = 0.8" in export_module(run, best_candidate(session, run))
    assert tiny.events("run.reselected")[0]["winner_changed"] is True


def test_top_1_keeps_the_single_seed_winner_and_retrains_nothing_extra(tmp_path: Path) -> None:
    answers = [_answer(reward_code(f, tag=str(f))) for f in (0.9, 0.8, 0.2)]
    with FakeLLMServer(default=Reply(answers)) as llm:
        tiny = _run(tmp_path, llm, final_top_k=1)
        executor = ScriptedExecutor(_lucky_on_one_seed)
        assert tiny.execute(executor) == "succeeded"
    search = {c.fitness: c for c in tiny.candidates() if c.kind == "search"}
    run = _stored(tiny)
    assert run.best_candidate_id == search[0.9].id
    assert "reselection" not in run.final
    assert not [c for c in tiny.candidates() if c.kind == "reselect"]
    assert len(executor.jobs) == 3 + 3 * 2  # the search, then three sources x two seeds


def test_a_stable_winner_is_kept_and_the_run_says_so(tmp_path: Path) -> None:
    answers = [_answer(reward_code(f, tag=str(f))) for f in (0.9, 0.8, 0.2)]
    with FakeLLMServer(default=Reply(answers)) as llm:
        tiny = _run(tmp_path, llm)  # the default: the top 3
        assert tiny.execute(ScriptedExecutor()) == "succeeded"
    run = _stored(tiny)
    chosen = run.final["reselection"]
    assert chosen["top_k"] == 3 and chosen["winner_changed"] is False
    assert run.best_candidate_id == chosen["search_winner_id"]
