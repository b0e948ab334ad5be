"""Which of the card's training settings a run's candidates train with: the zoo's, tuned
for the card's full budget, or the short-budget ones a locomotion card carries for the
small budgets a search gives each candidate (run option ``tuning``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.db.models import Candidate
from app.evolution.search_history import training_setup
from app.evolution.training import build_job
from app.run_options import RunSpec, TrainingOptions, spec_of
from app.run_prepare import RunOptionError, prepare_run
from envs import get_card
from envs.zoo import SHORT_BUDGET, SHORT_BUDGET_MAX_FRACTION
from tests.processes import cli_env, run_cli


def _spec(env_id: str, timesteps: int | None, **options: object) -> RunSpec:
    return RunSpec(
        env_id=env_id,
        task="run backwards",
        timesteps=timesteps,
        options=TrainingOptions.model_validate(options),
    )


@pytest.mark.parametrize("env_id", sorted(SHORT_BUDGET))
def test_auto_picks_the_short_settings_for_a_small_budget_and_the_zoos_for_the_full_one(
    env_id: str,
) -> None:
    card = get_card(env_id)
    small = round(SHORT_BUDGET_MAX_FRACTION * card.training.timesteps)
    assert prepare_run(_spec(env_id, small)).options.tuning == "short"
    assert prepare_run(_spec(env_id, small + 1)).options.tuning == "zoo"
    assert prepare_run(_spec(env_id, None)).options.tuning == "zoo"  # the card's budget
    assert prepare_run(_spec(env_id, small + 1, tuning="short")).options.tuning == "short"
    assert prepare_run(_spec(env_id, small, tuning="zoo")).options.tuning == "zoo"


def test_a_card_without_short_settings_trains_with_its_own_and_refuses_short() -> None:
    assert prepare_run(_spec("Pendulum-v1", 2000)).options.tuning == "zoo"
    with pytest.raises(RunOptionError) as refused:
        prepare_run(_spec("Pendulum-v1", 2000, tuning="short"))
    assert refused.value.loc == ("options", "tuning")
    assert "Pendulum-v1 has no short-budget settings" in refused.value.message


def test_the_chosen_settings_reach_training_evaluation_and_the_prompt(tmp_path: Path) -> None:
    card = get_card("Hopper-v5")
    assert card.short_training is not None
    spec = prepare_run(_spec("Hopper-v5", 15_000))
    candidate = Candidate(id="c1", seed=3, code="def compute_reward(): ...")
    job = build_job(run_id="r1", spec=spec, card=card, candidate=candidate, artifacts=tmp_path)
    short = card.short_training
    assert job.train.hyperparams == short.hyperparams
    assert job.train.hyperparams != card.training.hyperparams
    assert (job.train.n_envs, job.train.tuned_n_envs) == (short.n_envs, short.n_envs)
    assert job.train.policy_kwargs == job.eval.policy_kwargs == short.policy_kwargs
    assert training_setup(spec, card).n_envs == short.n_envs
    # The user's n_envs still wins; the settings say what they were tuned for.
    wider = build_job(
        run_id="r1",
        spec=prepare_run(_spec("Hopper-v5", 15_000, n_envs=8)),
        card=card,
        candidate=candidate,
        artifacts=tmp_path,
    )
    assert (wider.train.n_envs, wider.train.tuned_n_envs) == (8, short.n_envs)


class _Stored:
    """A run stored before the choice was recorded: its options have no ``tuning``."""

    env_id, card_spec, task, fitness_metric = "Hopper-v5", None, "hop", "forward_distance"
    iterations, samples, timesteps, final_seeds, seed = 1, 2, 15_000, 1, 0
    llm: dict[str, object] = {"offline": True}
    options: dict[str, object] = {"simulator": "mujoco"}
    feedback_mode, feedback_timeout_s = "none", 60.0


def test_a_run_stored_before_the_choice_keeps_training_with_the_zoos(tmp_path: Path) -> None:
    spec = spec_of(_Stored())
    assert spec.options.tuning == "auto"
    card = get_card("Hopper-v5")
    candidate = Candidate(id="c1", seed=0, code="def compute_reward(): ...")
    job = build_job(run_id="r1", spec=spec, card=card, candidate=candidate, artifacts=tmp_path)
    assert job.train.hyperparams == card.training.hyperparams


def test_cli_run_stores_the_choice_and_its_candidates_train_with_it(tmp_path: Path) -> None:
    """A user's run from the CLI at a search's budget: the stored run says ``short`` and the
    sandbox got the short settings (the candidate's own train_spec.json)."""
    data = tmp_path / "data"
    args = ["run", "--env", "Hopper-v5", "--task", "hop backwards", "--offline"]
    args += ["--fitness", "backward_distance", "--iterations", "1", "--samples", "1"]
    args += ["--timesteps", "2000", "--final-seeds", "0", "--no-video", "--json"]
    done = run_cli(args, cli_env(data))
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["status"] == "succeeded", summary
    [spec_file] = (data / "artifacts" / summary["run_id"]).glob("*/train_spec.json")
    trained = json.loads(spec_file.read_text())
    short = get_card("Hopper-v5").short_training
    assert short is not None
    assert trained["hyperparams"] == short.hyperparams
    assert trained["n_envs"] == short.n_envs
    shown = run_cli(["show", summary["run_id"], "--json"], cli_env(data))
    assert shown.returncode == 0, shown.stderr[-3000:]
    assert '"tuning": "short"' in shown.stdout
