"""The evolution loop as production runs it (run store, prompts, a real HTTP LLM
endpoint, selection, reflection, export), with training results scripted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.db.candidates import best_candidate
from app.db.feedback import add_feedback
from app.db.models import Feedback, Iteration, LLMCall
from app.evolution.export import export_module
from app.execution.executor import CandidateResult
from tests.evolution.runs import TinyRun, new_run
from tests.evolution.scripted import ScriptedExecutor, reward_code
from tests.fake_llm import FakeLLMServer, Reply


def _answer(code: str) -> str:
    return f"Here is the reward.\n\n```python\n{code}```\n"


def _llm_run(tmp_path: Path, llm: FakeLLMServer, **fields: Any) -> TinyRun:
    return new_run(
        tmp_path / "data",
        llm={"model": "fake-model", "base_url": llm.base_url},
        **fields,
    )


def _iterations(tiny: TinyRun) -> list[Iteration]:
    with tiny.factory() as session:
        return list(
            session.query(Iteration).filter_by(run_id=tiny.run_id).order_by(Iteration.index)
        )


def _prompt(iteration: Iteration) -> str:
    return "\n".join(m["content"] for m in iteration.messages)


def test_repeated_prompts_ask_the_llm_each_iteration_and_a_resume_asks_nothing(
    tmp_path: Path,
) -> None:
    # The same answer every time: the parent never changes, so the prompts repeat.
    with FakeLLMServer(default=Reply([_answer(reward_code(0.5))])) as llm:
        tiny = _llm_run(tmp_path, llm, iterations=3, samples=2)
        assert tiny.execute(ScriptedExecutor()) == "succeeded"
        requests = llm.chat_requests
        assert len(requests) == 3
        assert len({r.get("seed") for r in requests}) == 3  # a fresh seed per iteration
        # the same parent, statistics and setup: only the lines on the whole search differ
        same = [
            _prompt(i).split("Every candidate of the last iteration")[0] for i in _iterations(tiny)
        ]
        assert same[1] == same[2]

        # A resumed iteration: its stored prompt is answered from the store.
        with tiny.factory.begin() as session:
            session.query(LLMCall).filter_by(run_id=tiny.run_id).count()
            from app.db.models import Candidate, Run

            session.query(Candidate).filter_by(run_id=tiny.run_id, iteration_index=2).delete()
            it = session.query(Iteration).filter_by(run_id=tiny.run_id, index=2).one()
            it.status = "proposing"
            run = session.get(Run, tiny.run_id)
            assert run is not None
            run.status = "queued"
        assert tiny.execute(ScriptedExecutor()) == "succeeded"
        assert len(llm.chat_requests) == 3


def test_a_lower_is_better_metric_selects_reflects_on_and_exports_the_lowest(
    tmp_path: Path,
) -> None:
    # Pendulum's metric mean_uprightness is higher-better; MountainCar's reach_flag too.
    # CartPole has none lower-better, so use Reacher's final_distance (lower is better).
    answers = [_answer(reward_code(f, tag=str(f))) for f in (0.9, 0.1, 0.5)]
    with FakeLLMServer(default=Reply(answers)) as llm:
        tiny = _llm_run(
            tmp_path,
            llm,
            env_id="Reacher-v5",
            task="touch the target",
            fitness_metric="final_distance",
            iterations=2,
            samples=3,
            final_seeds=0,
        )
        assert tiny.execute(ScriptedExecutor()) == "succeeded"
        first = [c for c in tiny.candidates() if c.iteration_index == 0]
        lowest = min(first, key=lambda c: c.fitness or 0.0)
        assert lowest.fitness == 0.1
        iterations = _iterations(tiny)
        assert iterations[0].best_candidate_id == lowest.id
        assert iterations[1].parent_candidate_id == lowest.id
        assert iterations[1].parent_rule == "fitness"
        assert "SCRIPTED_FITNESS = 0.1" in _prompt(
            iterations[1]
        )  # the parent's code is reflected on
        assert "scored best on `final_distance`" in _prompt(iterations[1])
        with tiny.factory() as session:
            from app.db.models import Run

            run = session.get(Run, tiny.run_id)
            assert run is not None and run.best_fitness == 0.1
            assert "SCRIPTED_FITNESS = 0.1" in export_module(run, best_candidate(session, run))


def test_a_preference_makes_the_preferred_candidate_the_next_parent(tmp_path: Path) -> None:
    answers = [_answer(reward_code(f, tag=str(f))) for f in (0.9, 0.2)]
    with FakeLLMServer(default=Reply(answers)) as llm:
        tiny = _llm_run(tmp_path, llm, iterations=2, samples=2, feedback_mode="wait")

        def prefer_the_worse(kind: str, data: dict[str, Any]) -> None:
            if kind != "feedback.waiting":
                return
            first = {c.fitness: c for c in tiny.candidates() if c.iteration_index == 0}
            with tiny.factory.begin() as session:
                add_feedback(
                    session,
                    run_id=tiny.run_id,
                    iteration_index=0,
                    kind="preference",
                    candidate_id=first[0.2].id,
                    other_candidate_id=first[0.9].id,
                )
                add_feedback(session, run_id=tiny.run_id, iteration_index=0, kind="continue")

        assert tiny.execute(ScriptedExecutor(), on_progress=prefer_the_worse) == "succeeded"
        preferred = next(c for c in tiny.candidates() if c.fitness == 0.2)
        second = _iterations(tiny)[1]
        assert (second.parent_candidate_id, second.parent_rule) == (preferred.id, "preferences")
        prompt = _prompt(second)
        assert "SCRIPTED_FITNESS = 0.2" in prompt and "preferred its behaviour most" in prompt
        assert "They preferred the behaviour of iteration 0 candidate 1" in prompt
        assert llm.chat_requests[1]["messages"] == second.messages


def test_a_late_note_about_an_old_iteration_reaches_the_next_prompt(tmp_path: Path) -> None:
    with FakeLLMServer() as llm:
        # new code every iteration: a duplicate would take its twin's result untrained
        llm.enqueue(*(Reply([_answer(reward_code(0.3, tag=str(i)))]) for i in range(3)))
        tiny = _llm_run(tmp_path, llm, iterations=3, samples=1)

        def note_while_iteration_1_trains(kind: str, data: dict[str, Any]) -> None:
            if kind == "candidate.heartbeat" and len(_iterations(tiny)) == 2:
                with tiny.factory.begin() as session:
                    already = session.query(Feedback).filter_by(run_id=tiny.run_id).count()
                    if not already:
                        add_feedback(
                            session,
                            run_id=tiny.run_id,
                            iteration_index=0,  # about an iteration two prompts back
                            kind="text",
                            text="late note 5e2a: it wobbles",
                        )

        assert tiny.execute(ScriptedExecutor(), on_progress=note_while_iteration_1_trains) == (
            "succeeded"
        )
        iterations = _iterations(tiny)
        assert "late note 5e2a" not in _prompt(iterations[1])
        assert "late note 5e2a" in _prompt(iterations[2])
        assert any("late note 5e2a" in str(r["messages"]) for r in llm.chat_requests[2:])
        with tiny.factory() as session:
            [note] = session.query(Feedback).filter_by(run_id=tiny.run_id).all()
            assert (note.consumed, note.used_in_iteration) == (True, 2)
        assert [e["iteration"] for e in tiny.events("feedback.consumed")] == [2]


class _DiskFailsOnce(ScriptedExecutor):
    """The service's disk fails under the first job, as a read-only data dir would."""

    def run(self, jobs, *, on_event=None, should_cancel=None):  # type: ignore[no-untyped-def]
        if not self.jobs:
            self.jobs.append(jobs[0])
            yield CandidateResult(
                jobs[0].key,
                "failed",
                error="OSError(30, 'Read-only file system') writing /data/artifacts/x",
                error_kind="storage",
            )
            jobs = jobs[1:]
        yield from super().run(jobs, on_event=on_event, should_cancel=should_cancel)


def test_a_storage_fault_stops_the_run_resumable_and_blames_no_candidate(tmp_path: Path) -> None:
    tiny = new_run(tmp_path / "data", iterations=1, samples=2)
    executor = _DiskFailsOnce()
    assert tiny.execute(executor) == "failed"
    with tiny.factory() as session:
        from app.db.models import Run

        run = session.get(Run, tiny.run_id)
        assert run is not None and "storage failed, not a candidate" in (run.error or "")
        assert "Read-only file system" in (run.error or "")
    assert {c.status for c in tiny.candidates()} == {"pending"}  # nothing marked failed

    with tiny.factory.begin() as session:
        from app.db.runs import set_run_status

        set_run_status(session, run_id=tiny.run_id, status="queued")  # what resume does
    assert tiny.execute(executor) == "succeeded"
    assert {c.status for c in tiny.candidates()} == {"done"}
