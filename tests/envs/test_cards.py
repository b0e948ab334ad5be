"""Every card, built-in or a user's, on its real env: the state it extracts, the
metrics and shaping terms over that state, and agreement with the simulator."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np
import pytest

import envs
from envs import classic_control, mujoco_arms, mujoco_locomotion
from envs.card import EnvCard, reduce_episode
from tests.envs.rollouts import BATCH, Step, Truth, rollout

BUILTIN = [*mujoco_locomotion.CARDS, *mujoco_arms.CARDS, *classic_control.CARDS]
CUSTOM = envs.load_card("tests.envs.example_cards:make_card")
CARDS = [*envs.list_cards(), CUSTOM]  # installed plugin cards included
IDS = [f"{card.env_id}{'-custom' if card is CUSTOM else ''}" for card in CARDS]


def _body_com(name: str, dims: int = 3) -> Any:
    return lambda u: u.get_body_com(name)[:dims].copy()


def _torso_up(u: Any) -> float:
    # MuJoCo's own quaternion -> rotation matrix; entry 8 is the up axis' world z.
    rotation = np.zeros(9)
    mujoco.mju_quat2Mat(rotation, u.data.qpos[3:7])
    return float(rotation[8])


def _tip_now(u: Any) -> np.ndarray:
    # site_xpos after a step lags qpos by one physics substep: recompute it at qpos.
    data = mujoco.MjData(u.model)
    data.qpos[:] = u.data.qpos
    mujoco.mj_kinematics(u.model, data)
    return data.site_xpos[0].copy()


def _healthy(u: Any, z_index: int) -> dict[str, Any]:
    return {"is_healthy": float(u.is_healthy), "torso_height": u.data.qpos[z_index]}


# What each simulator says the card's variables are, read independently of the observation.
TRUTH: dict[str, Truth] = {
    "HalfCheetah-v5": lambda u: {
        "torso_angle": u.data.qpos[2],
        "z_position": u.data.qpos[1],
        "is_upright": float(u.data.body("torso").xmat[8] > 0),
        "x_position": u.data.qpos[0],
    },
    "Hopper-v5": lambda u: {**_healthy(u, 1), "torso_angle": u.data.qpos[2]},
    "Walker2d-v5": lambda u: {**_healthy(u, 1), "joint_angles": u.data.qpos[3:9].copy()},
    "Ant-v5": lambda u: {
        **_healthy(u, 2),
        "torso_up": _torso_up(u),
        "contact_forces": np.clip(u.data.cfrc_ext[1:], -1, 1).flatten(),
    },
    "Humanoid-v5": lambda u: {
        **_healthy(u, 2),
        "torso_up": _torso_up(u),
        "contact_forces": u.data.cfrc_ext[1:].flatten(),
        "actuator_forces": u.data.qfrc_actuator[6:].copy(),
    },
    "HumanoidStandup-v5": lambda u: {
        "torso_height": u.data.qpos[2],
        "torso_up": _torso_up(u),
        "joint_velocities": u.data.qvel[6:].copy(),
    },
    "Swimmer-v5": lambda u: {"heading": u.data.qpos[2], "joint_angles": u.data.qpos[3:5].copy()},
    "Reacher-v5": lambda u: {
        "fingertip_position": _body_com("fingertip", 2)(u),
        "target_position": _body_com("target", 2)(u),
        "fingertip_distance": np.linalg.norm(
            u.get_body_com("fingertip") - u.get_body_com("target")
        ),
    },
    "Pusher-v5": lambda u: {
        "fingertip_position": _body_com("tips_arm")(u),
        "object_position": _body_com("object")(u),
        "goal_position": _body_com("goal")(u),
    },
    "InvertedPendulum-v5": lambda u: {"pole_angle": u.data.qpos[1]},
    "InvertedDoublePendulum-v5": lambda u: {
        "tip_x": _tip_now(u)[0],
        "tip_height": _tip_now(u)[2],
        "pole_angles": u.data.qpos[1:3].copy(),
    },
    "CartPole-v1": lambda u: {"cart_position": u.state[0], "pole_angle": u.state[2]},
    "Pendulum-v1": lambda u: {"angle": u.state[0], "angular_velocity": u.state[1]},
    "MountainCarContinuous-v0": lambda u: {"position": u.state[0], "velocity": u.state[1]},
    "Acrobot-v1": lambda u: {
        "link_angles": np.array(u.state[:2]),
        "tip_height": -np.cos(u.state[0]) - np.cos(u.state[0] + u.state[1]),
    },
}
ANGLES = {"angle", "link_angles", "heading", "torso_angle", "pole_angles"}

# The variable that says an episode ended, and its value on the ending step.
ENDS_WHEN = {
    "Hopper-v5": ("is_healthy", 0.0),
    "Walker2d-v5": ("is_healthy", 0.0),
    "Ant-v5": ("is_healthy", 0.0),
    "Humanoid-v5": ("is_healthy", 0.0),
    "InvertedPendulum-v5": ("is_balanced", 0.0),
    "InvertedDoublePendulum-v5": ("is_balanced", 0.0),
    "CartPole-v1": ("is_balanced", 0.0),
    "MountainCarContinuous-v0": ("reached_goal", 1.0),
    "Acrobot-v1": ("is_above_goal", 1.0),
}

_ROLLOUTS: dict[int, list[Step]] = {}


def steps_of(card: EnvCard) -> list[Step]:
    """One cached rollout per card (several tests read it)."""
    if id(card) not in _ROLLOUTS:
        truth = TRUTH[card.env_id] if any(card is b for b in BUILTIN) else None
        _ROLLOUTS[id(card)] = rollout(card, truth)
    return _ROLLOUTS[id(card)]


def evaluate(expression: str, step: Step) -> np.ndarray:
    return np.asarray(eval(expression, {"np": np}, {"state": step.state, "action": step.action}))


@pytest.mark.parametrize("card", CARDS, ids=IDS)
def test_extract_gives_declared_read_only_variables(card: EnvCard) -> None:
    declared = {var.name: var for var in card.state_vars}
    assert len(declared) == len(card.state_vars), "state variable names repeat"
    for step in steps_of(card):
        assert set(step.state) == set(declared)
        for name, arr in step.state.items():
            assert arr.shape == (BATCH, *declared[name].shape), name
            assert arr.dtype in (np.float64, np.float32), name
            assert np.isfinite(arr).all(), name
            assert not arr.flags.writeable, name
        for arr in step.state.values():
            with pytest.raises(ValueError, match="read-only"):
                arr[...] = 0.0


@pytest.mark.parametrize("card", CARDS, ids=IDS)
def test_fitness_metrics_equal_their_expressions(card: EnvCard) -> None:
    assert card.fitness_metrics, "a card needs at least one fitness metric"
    assert card.default_metric is card.fitness_metrics[0]
    for metric in card.fitness_metrics:
        assert card.metric(metric.name) is metric
        values = []
        for step in steps_of(card):
            value = np.asarray(metric.step(step.state, step.action))
            assert value.shape == (BATCH,), metric.name
            assert np.isfinite(value).all(), metric.name
            np.testing.assert_allclose(evaluate(metric.expression, step), value, rtol=1e-12)
            values.append(value[0])
        fitness = reduce_episode(np.array(values, dtype=np.float64), metric.reduce)
        assert np.isfinite(fitness)
        assert isinstance(metric.succeeded(fitness), bool)


@pytest.mark.parametrize("card", CARDS, ids=IDS)
def test_shaping_terms_give_one_value_per_env(card: EnvCard) -> None:
    names = [term.name for term in card.shaping_terms]
    assert len(set(names)) == len(names)
    for term in card.shaping_terms:
        assert term.sign in (-1.0, 1.0), term.name
        for step in steps_of(card):
            value = evaluate(term.expression, step)
            assert value.shape == (BATCH,), term.name
            assert np.isfinite(value).all(), term.name


@pytest.mark.parametrize("card", BUILTIN, ids=lambda card: card.env_id)
def test_variables_agree_with_the_simulator(card: EnvCard) -> None:
    checked = 0
    for step in steps_of(card):
        for i, truth in enumerate(step.truth):
            for name, expected in (truth or {}).items():
                got, want = step.state[name][i], np.asarray(expected, dtype=np.float64)
                if name in ANGLES:  # compare angles on the circle
                    diff = got - want
                    got, want = np.arctan2(np.sin(diff), np.cos(diff)), np.zeros_like(want)
                np.testing.assert_allclose(got, want, atol=1e-5, err_msg=name)
                checked += 1
    assert checked > 0


@pytest.mark.parametrize("env_id", sorted(ENDS_WHEN))
def test_end_flags_match_env_termination(env_id: str) -> None:
    name, value_at_end = ENDS_WHEN[env_id]
    for step in steps_of(envs.get_card(env_id)):
        ended = step.state[name] == value_at_end
        np.testing.assert_array_equal(ended, step.terminated, err_msg=name)


@pytest.mark.parametrize(
    "card",
    [c for c in BUILTIN if "forward_distance" in {m.name for m in c.fitness_metrics}],
    ids=lambda card: card.env_id,
)
def test_distance_metrics_use_the_env_step_duration(card: EnvCard) -> None:
    env = gym.make(card.env_id, **card.make_kwargs)
    dt = env.unwrapped.dt
    env.close()
    for step in steps_of(card):
        velocity = step.state["x_velocity"]
        np.testing.assert_allclose(
            card.metric("forward_distance").step(step.state, step.action), velocity * dt
        )
        np.testing.assert_allclose(
            card.metric("backward_distance").step(step.state, step.action), -velocity * dt
        )


def test_forward_distance_of_a_planar_walker_sums_to_its_displacement() -> None:
    card = envs.get_card("HalfCheetah-v5")  # never ends early, x_position is the root joint
    metric, steps = card.metric("forward_distance"), steps_of(card)
    moved = sum(float(metric.step(s.state, s.action)[0]) for s in steps[1:])
    start, end = steps[0].state["x_position"][0], steps[-1].state["x_position"][0]
    assert moved == pytest.approx(end - start, abs=1e-9)


@pytest.mark.parametrize("card", CARDS, ids=IDS)
def test_card_text_and_training_defaults_are_plain_data(card: EnvCard) -> None:
    assert card.description and card.action_description
    assert all(var.description for var in card.state_vars)
    assert json.loads(json.dumps(asdict(card.training)))["algorithm"] in ("PPO", "SAC")
    assert json.loads(json.dumps(card.make_kwargs)) == card.make_kwargs


def test_every_builtin_card_is_found_by_its_id() -> None:
    assert len({card.env_id for card in BUILTIN}) == len(BUILTIN) == 15
    for card in BUILTIN:
        assert envs.get_card(card.env_id) is card


@pytest.mark.parametrize(
    ("env_id", "start"),
    [("MountainCarContinuous-v0", [0.44, 0.05]), ("Acrobot-v1", [np.pi - 0.1, 0.0, 0.0, 0.0])],
)
def test_reaching_the_goal_counts_as_success(env_id: str, start: list[float]) -> None:
    card = envs.get_card(env_id)
    env = gym.make(env_id)
    env.reset(seed=0)
    env.unwrapped.state = np.array(start)
    action = np.array([1.0]) if env_id.startswith("Mountain") else 1
    obs, _, terminated, _, info = env.step(action)
    env.close()
    state = card.extract(obs[None], [info])
    metric = card.default_metric
    assert terminated
    assert metric.succeeded(reduce_episode(metric.step(state, np.array([action])), metric.reduce))
