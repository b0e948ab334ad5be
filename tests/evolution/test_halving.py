"""Successive halving within an iteration: the lowest-scoring candidates stop early
and keep what they learned; the rest continue from their checkpoints, never from
zero, also after the worker running them was killed."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from pathlib import Path

import pytest

from app.evolution.halving import HalvingPlan, parse_halving
from app.execution.local import LocalExecutor
from app.execution.process import descendants
from app.run_options import TrainingOptions
from tests.evolution.runs import TinyRun, new_run
from tests.evolution.scripted import ScriptedExecutor, reward_code
from tests.fake_llm import FakeLLMServer, Reply
from tests.processes import cli_env, start_cli

HALVING = {"eval_episodes": 1, "video": False, "halving": True}
BUDGETS = [512, 1024, 2048]  # 0.25, 0.5 and 1.0 of 2048 steps


def _answer(code: str) -> str:
    return f"Here is the reward.\n\n```python\n{code}```\n"


def _halving_run(tmp_path: Path) -> TinyRun:
    return new_run(tmp_path / "data", samples=4, timesteps=2048, options=HALVING)


def _check_cuts(tiny: TinyRun) -> None:
    """Each cut stopped exactly the lowest evaluator fitness of its rung."""
    cuts = tiny.events("halving.cut")
    assert [c["rung"] for c in cuts] == [0, 1]
    assert [(len(c["kept"]), len(c["stopped"])) for c in cuts] == [(2, 2), (1, 1)]
    for cut in cuts:
        assert min(cut["kept"].values()) >= max(cut["stopped"].values())
    rows = {c.id: c for c in tiny.candidates()}
    for rung, cut in enumerate(cuts):
        for key, fitness in cut["stopped"].items():
            stopped = rows[key]
            assert (stopped.status, stopped.fitness) == ("stopped", fitness)
            assert stopped.env_steps == stopped.stats["steps"] == BUDGETS[rung]
            assert stopped.evaluation["halving"]["rung"] == rung and stopped.stats["checkpoints"]
            assert stopped.error_kind == "halving"
    [winner] = [c for c in rows.values() if c.status == "done"]
    assert winner.id in cuts[1]["kept"]
    assert winner.env_steps == winner.stats["steps"] == 2048


def _beats_below(tiny: TinyRun, rung: int) -> list[int]:
    """Heartbeats since ``rung`` started below the steps its candidates had already done.

    A survivor that trained from zero again would beat at a few steps; the
    sandbox's first beat, written before it loads the checkpoint, says 0.
    """
    start = max(
        i
        for i, (kind, data) in enumerate(tiny.progress)
        if kind == "halving.rung" and data["rung"] == rung
    )
    keys = set(tiny.progress[start][1]["candidates"])
    return [
        data["steps"]
        for kind, data in tiny.progress[start:]
        if kind == "candidate.heartbeat" and data["key"] in keys
        if data["steps"] != 0 and data["steps"] < BUDGETS[rung - 1]
    ]


def _check_continued(tiny: TinyRun, winner_id: str) -> None:
    """The winner's statistics run on across rungs, and its last rung resumed."""
    winner = next(c for c in tiny.candidates() if c.id == winner_id)
    steps = [point["steps"] for point in winner.stats["checkpoints"]]
    assert steps == sorted(set(steps)) and steps[-1] == 2048
    assert [s for s in steps if s <= BUDGETS[0]][-1] == BUDGETS[0]  # rung 0's points are kept
    spec = json.loads((Path(winner.artifact_dir) / "train_spec.json").read_text())
    assert spec["timesteps"] == 2048
    assert spec["resume_from"] == str(Path(winner.artifact_dir) / "halving" / "rung-1")
    assert not (Path(winner.artifact_dir) / "halving").exists()  # rung checkpoints cleaned up


@pytest.mark.slow
def test_halving_stops_the_lowest_and_continues_the_rest(tmp_path: Path) -> None:
    tiny = _halving_run(tmp_path)
    assert tiny.execute(LocalExecutor(2)) == "succeeded"
    _check_cuts(tiny)
    [winner] = [c for c in tiny.candidates() if c.status == "done"]
    _check_continued(tiny, winner.id)
    # Training time sums every rung: the winner's is more than its first two rungs'.
    times = [r["train_seconds"] for r in tiny.events("candidate.rung") if r["id"] == winner.id]
    assert len(times) == 2 and times[0] < times[1] < (winner.train_seconds or 0)
    rungs = tiny.events("halving.rung")
    assert [(r["rung"], r["budget"], len(r["candidates"])) for r in rungs] == [
        (0, 512, 4),
        (1, 1024, 2),
        (2, 2048, 1),
    ]
    for rung in (1, 2):
        assert _beats_below(tiny, rung) == []
    spent = sum(c.env_steps for c in tiny.candidates())
    assert spent == 4 * 512 + 2 * 512 + 1 * 1024 == 4096  # half of 4 full trainings


def _wait(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise TimeoutError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_killed_worker_resumes_halving_at_its_rung(tmp_path: Path) -> None:
    tiny = _halving_run(tmp_path)
    env = cli_env(tiny.data_dir, database_url=tiny.url, lease_seconds="3", workers="2")
    worker = start_cli(["worker"], env, tmp_path / "worker.log")
    try:  # the machine dies while rung 1 trains: the worker and its sandboxes at once
        _wait(
            lambda: len(tiny.events("halving.rung")) >= 2 and bool(descendants(worker.pid)),
            300,
            "rung 1 to start training",
        )
        doomed = [worker.pid, *descendants(worker.pid)]
        for pid in doomed:
            with contextlib.suppress(ProcessLookupError):  # a sandbox that just ended
                os.kill(pid, signal.SIGKILL)
    finally:
        worker.kill()
        worker.wait()
    rows = {c.id: c for c in tiny.candidates()}
    stopped_before = {k for k, c in rows.items() if c.status == "stopped"}
    survivors = set(tiny.events("halving.rung")[1]["candidates"])
    assert len(stopped_before) == 2 and len(survivors) == 2
    assert all(rows[k].evaluation["halving"]["kept"] for k in survivors)

    assert tiny.execute(LocalExecutor(2)) == "succeeded"
    _check_cuts(tiny)
    resumed = tiny.seen("halving.rung")
    assert resumed[0]["candidates"] == []  # rung 0 is not trained again
    assert set(resumed[1]["candidates"]) == survivors
    started = [d["key"] for d in tiny.seen("candidate.started")]
    assert not stopped_before & set(started)
    assert tiny.seen("candidate.heartbeat")
    assert _beats_below(tiny, 1) == [] and _beats_below(tiny, 2) == []
    [winner] = [c for c in tiny.candidates() if c.status == "done"]
    _check_continued(tiny, winner.id)


def test_halving_options_are_checked_and_default_on_from_four_samples() -> None:
    def plan(samples: int, timesteps: int, **options: object) -> HalvingPlan | None:
        return parse_halving(
            TrainingOptions.model_validate(options), samples=samples, timesteps=timesteps
        )

    assert plan(4, 1000) == HalvingPlan((250, 500, 1000), 0.5)
    assert plan(3, 1000) is None
    assert plan(16, 1000, halving=False) is None
    assert plan(2, 100, halving=True, halving_rungs=[0.1, 1.0], halving_keep=0.3) == HalvingPlan(
        (10, 100), 0.3
    )
    bad = [
        ({"halving": "yes"}, "halving\n.*valid boolean"),
        ({"halving_rungs": [0.5, 0.25, 1.0]}, "increasing budget fractions"),
        ({"halving_rungs": [0.25, 0.5]}, "ending at 1.0"),
        ({"halving_rungs": "0.5"}, "halving_rungs"),
        ({"halving_keep": 1.0}, "halving_keep\n.*less than 1"),
        ({"halving_keep": True}, "halving_keep"),
    ]
    for options, message in bad:
        with pytest.raises(ValueError, match=message):
            TrainingOptions.model_validate(options)


def _four_candidates(tmp_path: Path, executor: ScriptedExecutor) -> TinyRun:
    """One halving iteration of four candidates scored 1.0, 0.98, 0.97 and 0.4."""
    answers = [_answer(reward_code(f, tag=str(f))) for f in (1.0, 0.98, 0.97, 0.4)]
    with FakeLLMServer(default=Reply(answers)) as llm:
        tiny = new_run(
            tmp_path / "data",
            llm={"model": "fake-model", "base_url": llm.base_url},
            samples=4,
            iterations=1,
            final_seeds=0,
            timesteps=2048,
            options=HALVING,
        )
        assert tiny.execute(executor) == "succeeded"
    return tiny


def test_halving_cuts_only_where_the_gap_exceeds_the_noise(tmp_path: Path) -> None:
    # Each evaluated on 5 episodes with a spread of 0.05: 0.97 is within two standard
    # errors of 0.98 (the weakest of the half kept), so it goes on; 0.4 is not.
    tiny = _four_candidates(tmp_path, ScriptedExecutor(spread=0.05))
    fitness = {c.id: c.fitness for c in tiny.candidates()}
    cuts = tiny.events("halving.cut")
    first = cuts[0]
    assert sorted(first["kept"].values()) == [0.97, 0.98, 1.0]
    assert list(first["stopped"].values()) == [0.4]
    assert [fitness[k] for k in first["kept_within_noise"]] == [0.97]
    # At the next rung all three are within the noise of the kept pair: none stops.
    assert cuts[1]["stopped"] == {} and len(cuts[1]["kept"]) == 3
    done = sorted(c.fitness for c in tiny.candidates() if c.status == "done")
    assert done == [0.97, 0.98, 1.0]


def test_without_a_spread_the_rank_alone_cuts(tmp_path: Path) -> None:
    first = _four_candidates(tmp_path, ScriptedExecutor()).events("halving.cut")[0]
    assert sorted(first["kept"].values()) == [0.98, 1.0] and first["kept_within_noise"] == []
