"""The run options' simulator: its default, its n_envs limits, and the card check that
prepare_run makes (the card's coverage and the packages, as sandbox.batched says)."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from pydantic import ValidationError

from app.run_options import MAX_N_ENVS, RunSpec, TrainingOptions
from app.run_prepare import RunOptionError, prepare_run
from sandbox.batched import MAX_BATCHED_ENVS, unavailable_reason

BATCHED_HERE = unavailable_reason("HalfCheetah-v5", "mujoco_warp")
needs_batched = pytest.mark.skipif(BATCHED_HERE is not None, reason=str(BATCHED_HERE))


def _spec(env_id: str = "HalfCheetah-v5", **options: Any) -> RunSpec:
    return RunSpec(env_id=env_id, task="run forward", options=TrainingOptions(**options))


def test_simulator_defaults_to_gymnasium_mujoco_and_null_means_the_default() -> None:
    assert TrainingOptions().simulator == "mujoco"
    assert TrainingOptions.model_validate({"simulator": None}).simulator == "mujoco"


def test_unknown_simulator_is_refused_by_name() -> None:
    with pytest.raises(ValidationError) as caught:
        TrainingOptions.model_validate({"simulator": "isaac"})
    [error] = caught.value.errors()
    assert error["loc"] == ("simulator",)
    assert "'mujoco' or 'mujoco_warp'" in error["msg"]


@pytest.mark.parametrize(
    ("simulator", "most"), [("mujoco", MAX_N_ENVS), ("mujoco_warp", MAX_BATCHED_ENVS)]
)
def test_n_envs_limit_depends_on_the_simulator(simulator: str, most: int) -> None:
    assert TrainingOptions(simulator=simulator, n_envs=most).n_envs == most  # type: ignore[arg-type]
    with pytest.raises(ValidationError) as caught:
        TrainingOptions(simulator=simulator, n_envs=most + 1)  # type: ignore[arg-type]
    [error] = caught.value.errors()
    assert error["loc"] == ("n_envs",)
    assert f"n_envs {most + 1} is over {most}, the most for simulator {simulator!r}" in error["msg"]


def test_a_refused_simulator_is_the_only_error_not_an_n_envs_one_too() -> None:
    with pytest.raises(ValidationError) as caught:
        TrainingOptions.model_validate({"simulator": "isaac", "n_envs": 4096})
    assert [error["loc"] for error in caught.value.errors()] == [("simulator",)]


@pytest.mark.parametrize("env_id", ["Pendulum-v1", "CartPole-v1", "Humanoid-v5"])
def test_batched_simulator_refuses_a_card_it_does_not_cover(env_id: str) -> None:
    with pytest.raises(RunOptionError) as caught:
        prepare_run(_spec(env_id, simulator="mujoco_warp"))
    assert caught.value.loc == ("options", "simulator")
    assert f"does not cover {env_id}" in caught.value.message
    assert caught.value.value == "mujoco_warp"


def test_batched_simulator_is_refused_where_its_packages_are_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "mujoco_warp", None)  # how Python spells "not importable"
    with pytest.raises(RunOptionError) as caught:
        prepare_run(_spec(simulator="mujoco_warp"))
    assert caught.value.loc == ("options", "simulator")
    assert "not installed here" in caught.value.message
    assert caught.value.message.endswith("mujoco_warp")


@needs_batched
def test_batched_simulator_prepares_a_covered_card_and_keeps_its_options() -> None:
    prepared = prepare_run(_spec(simulator="mujoco_warp", n_envs=4096))
    assert (prepared.options.simulator, prepared.options.n_envs) == ("mujoco_warp", 4096)


def test_gymnasium_mujoco_prepares_any_card() -> None:
    assert prepare_run(_spec("Pendulum-v1")).options.simulator == "mujoco"
