"""Cards for the 3-D MuJoCo v5 bodies with a free-floating torso: Ant, Humanoid,
HumanoidStandup.

Their observations start with qpos[2:] (torso height, torso orientation as a
quaternion w, x, y, z, then the joint angles) and qvel (torso linear velocity in
world axes, torso angular velocity in torso axes, joint velocities), followed by
per-body contact forces and, for the humanoids, inertia, velocities and actuator
forces of each body.
"""

from __future__ import annotations

import numpy as np

from envs.card import EnvCard, FitnessMetric, Reduce, ShapingTerm, State, StateVar
from envs.extract import Infos, batch_obs, info_array, read_only
from envs.terms import (
    ALIVE,
    CTRL_COST,
    distance_metrics,
    flag_steps_metric,
    in_env_reward,
    obs_var,
    state_term,
)
from envs.zoo import short_budget_defaults, zoo_defaults

_CONTACT_COST = ShapingTerm(
    "contact_cost", 'np.sum(np.square(np.clip(state["contact_forces"], -1, 1)), axis=-1)', -1.0
)


def _torso_up(quat: np.ndarray) -> np.ndarray:
    """World-z component of the torso's up axis: 1 upright, 0 on its side, -1 flipped."""
    return 1.0 - 2.0 * (quat[:, 1] ** 2 + quat[:, 2] ** 2)


def _spatial_vars(joints: str, n_joints: int, contact_note: str = "") -> tuple[StateVar, ...]:
    return (
        StateVar("x_position", (), "x position of the torso (+x is forward)", "m"),
        StateVar("y_position", (), "y position of the torso (sideways)", "m"),
        StateVar("torso_height", (), "height of the torso centre above the ground", "m"),
        StateVar("torso_orientation", (4,), "torso orientation quaternion (w, x, y, z)", ""),
        StateVar("torso_up", (), "cos of the torso tilt: 1 upright, 0 lying, -1 flipped", ""),
        StateVar("torso_linear_velocity", (3,), "torso velocity (x, y, z), world axes", "m/s"),
        StateVar("torso_angular_velocity", (3,), "torso angular velocity, torso axes", "rad/s"),
        StateVar("joint_angles", (n_joints,), f"joint angles: {joints}", "rad"),
        StateVar("joint_velocities", (n_joints,), "joint velocities, same order", "rad/s"),
        StateVar(
            "contact_forces",
            (78,),
            f"external contact wrench on each of the 13 bodies: (3 torque, 3 force){contact_note}",
            "N*m, N",
        ),
    )


def _spatial_state(o: np.ndarray, infos: Infos, n_joints: int, contact_at: int) -> State:
    """Columns shared by the free-torso layout (n_joints hinge joints)."""
    q, v = 5 + n_joints, 11 + 2 * n_joints  # ends of the qpos and qvel blocks
    return {
        "x_position": info_array(infos, "x_position", len(o)),
        "y_position": info_array(infos, "y_position", len(o)),
        "torso_height": o[:, 0],
        "torso_orientation": o[:, 1:5],
        "torso_up": _torso_up(o[:, 1:5]),
        "torso_linear_velocity": o[:, q : q + 3],
        "torso_angular_velocity": o[:, q + 3 : q + 6],
        "joint_angles": o[:, 5:q],
        "joint_velocities": o[:, q + 6 : v],
        "contact_forces": o[:, contact_at : contact_at + 78],
        "obs": o,
    }


# --- Ant ---------------------------------------------------------------------------


def _extract_ant(obs: np.ndarray, infos: Infos) -> State:
    o = batch_obs(obs, 105)
    state = _spatial_state(o, infos, 8, contact_at=27)
    state["x_velocity"] = info_array(infos, "x_velocity", len(o))
    state["y_velocity"] = info_array(infos, "y_velocity", len(o))
    state["is_healthy"] = np.isfinite(o).all(axis=1) & (o[:, 0] >= 0.2) & (o[:, 0] <= 1.0)
    return read_only(state)


_ANT_UPRIGHT = FitnessMetric(
    name="upright_steps",
    description="Steps in which the ant is healthy and not flipped (torso_up > 0). "
    "Success: 950 of the 1000 steps.",
    step=lambda state, action: state["is_healthy"] * (state["torso_up"] > 0.0),
    reduce="sum",
    success_threshold=950.0,
    expression='state["is_healthy"] * (state["torso_up"] > 0.0)',
    unit="steps",
)

ANT = EnvCard(
    env_id="Ant-v5",
    description="A 3-D quadruped: a round torso with four legs of two links each (hip and "
    "ankle). The env's own reward pays the torso's x velocity + 1 per healthy step - "
    "0.5 * squared action - 5e-4 * squared contact forces. The episode ends when the ant "
    "is unhealthy (torso height outside [0.2, 1.0] m, or a non-finite state) or after "
    "1000 steps of dt = 0.05 s.",
    action_description="8 joint torques, each in [-1, 1]: 0 back-right hip, 1 back-right "
    "ankle, 2 front-left hip, 3 front-left ankle, 4 front-right hip, 5 front-right ankle, "
    "6 back-left hip, 7 back-left ankle.",
    state_vars=(
        *_spatial_vars(
            "front-left hip, front-left ankle, front-right hip, front-right ankle, "
            "back-left hip, back-left ankle, back-right hip, back-right ankle",
            8,
            contact_note=", each clipped to [-1, 1]",
        ),
        StateVar("x_velocity", (), "torso velocity along +x over the last step", "m/s"),
        StateVar("y_velocity", (), "torso velocity along +y over the last step", "m/s"),
        StateVar("is_healthy", (), "1 while the env's health test passes (else it ends)", "0/1"),
        obs_var(105),
    ),
    extract=_extract_ant,
    fitness_metrics=(*distance_metrics(0.05, 25.0), _ANT_UPRIGHT),
    shaping_terms=(
        in_env_reward(state_term("healthy", "is_healthy"), 1.0),
        in_env_reward(CTRL_COST, 0.5),
        in_env_reward(_CONTACT_COST, 5e-4),
        state_term("upright", "torso_up"),
    ),
    training=zoo_defaults("Ant-v5"),
    short_training=short_budget_defaults("Ant-v5"),
)


# --- Humanoid and HumanoidStandup ------------------------------------------------------

_HUMANOID_JOINTS = (
    "abdomen z, abdomen y, abdomen x, right hip x, right hip z, right hip y, right knee, "
    "left hip x, left hip z, left hip y, left knee, right shoulder 1, right shoulder 2, "
    "right elbow, left shoulder 1, left shoulder 2, left elbow"
)
_HUMANOID_ACTIONS = (
    "17 joint torques, each in [-0.4, 0.4]: 0 abdomen y, 1 abdomen z, 2 abdomen x, "
    "3 right hip x, 4 right hip z, 5 right hip y, 6 right knee, 7 left hip x, 8 left hip z, "
    "9 left hip y, 10 left knee, 11 right shoulder 1, 12 right shoulder 2, 13 right elbow, "
    "14 left shoulder 1, 15 left shoulder 2, 16 left elbow."
)
_ACTUATOR_FORCES = StateVar(
    "actuator_forces", (17,), "generalised force of each joint's actuator, joint order", "N*m"
)


def _humanoid_state(o: np.ndarray, infos: Infos) -> State:
    state = _spatial_state(o, infos, 17, contact_at=270)
    state["actuator_forces"] = o[:, 253:270]
    return state


def _extract_humanoid(obs: np.ndarray, infos: Infos) -> State:
    o = batch_obs(obs, 348)
    state = _humanoid_state(o, infos)
    state["x_velocity"] = info_array(infos, "x_velocity", len(o))
    state["y_velocity"] = info_array(infos, "y_velocity", len(o))
    state["is_healthy"] = (o[:, 0] > 1.0) & (o[:, 0] < 2.0)
    return read_only(state)


def _extract_standup(obs: np.ndarray, infos: Infos) -> State:
    return read_only(_humanoid_state(batch_obs(obs, 348), infos))


HUMANOID = EnvCard(
    env_id="Humanoid-v5",
    description="A 3-D humanoid: torso, abdomen, two legs (thigh, shin, foot) and two arms "
    "(upper arm, forearm). The env's own reward pays 1.25 * x velocity of the centre of "
    "mass + 5 per healthy step - 0.1 * squared action - 5e-7 * squared contact forces. "
    "The episode ends when the torso height leaves (1.0, 2.0) m (a fall) or after 1000 "
    "steps of dt = 0.015 s.",
    action_description=_HUMANOID_ACTIONS,
    state_vars=(
        *_spatial_vars(_HUMANOID_JOINTS, 17),
        _ACTUATOR_FORCES,
        StateVar("x_velocity", (), "centre-of-mass velocity along +x, last step", "m/s"),
        StateVar("y_velocity", (), "centre-of-mass velocity along +y, last step", "m/s"),
        StateVar("is_healthy", (), "1 while the torso height is in (1.0, 2.0) m", "0/1"),
        obs_var(348),
    ),
    extract=_extract_humanoid,
    fitness_metrics=(
        *distance_metrics(0.015, 10.0),
        flag_steps_metric("upright_steps", "is_healthy", "the humanoid has not fallen", 950, 1000),
    ),
    shaping_terms=(
        ALIVE,
        CTRL_COST,
        state_term("upright", "torso_up"),
        state_term("height", "torso_height"),
        _CONTACT_COST,
    ),
    training=zoo_defaults("Humanoid-v5"),
)


def _height_metric(name: str, reduce: Reduce, threshold: float, what: str) -> FitnessMetric:
    return FitnessMetric(
        name=name,
        description=f"{what} (lying ~0.1 m, standing ~1.4 m). Success: {threshold:g} m.",
        step=lambda state, action: state["torso_height"],
        reduce=reduce,
        success_threshold=threshold,
        expression='state["torso_height"]',
        unit="m",
    )


HUMANOID_STANDUP = EnvCard(
    env_id="HumanoidStandup-v5",
    description="The Humanoid body, starting lying on its back on the ground. The env's own "
    "reward pays the torso height / 0.003 + 1 per step - 0.1 * squared action - 5e-7 * "
    "squared contact forces (capped at 10). Episodes never end early: 1000 steps of "
    "dt = 0.015 s.",
    action_description=_HUMANOID_ACTIONS,
    state_vars=(*_spatial_vars(_HUMANOID_JOINTS, 17), _ACTUATOR_FORCES, obs_var(348)),
    extract=_extract_standup,
    fitness_metrics=(
        _height_metric("mean_torso_height", "mean", 0.8, "Mean torso height over the episode"),
        _height_metric("final_torso_height", "last", 1.1, "Torso height at the episode's end"),
        _height_metric("max_torso_height", "max", 1.1, "Highest torso height in the episode"),
    ),
    shaping_terms=(
        state_term("height", "torso_height"),
        ShapingTerm("rise_speed", 'state["torso_linear_velocity"][:, 2]'),
        state_term("upright", "torso_up"),
        CTRL_COST,
    ),
    training=zoo_defaults("HumanoidStandup-v5"),
)

SPATIAL_CARDS: tuple[EnvCard, ...] = (ANT, HUMANOID, HUMANOID_STANDUP)
