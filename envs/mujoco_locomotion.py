"""Cards for the MuJoCo v5 locomotion bodies.

The planar ones live here (HalfCheetah, Hopper, Walker2d, Swimmer); the 3-D ones
(Ant, Humanoid, HumanoidStandup) in ``envs.mujoco_spatial``. Distances sum the
env's own ``x_velocity`` info (the torso's x displacement over one step divided
by dt; the centre of mass's for Humanoid) times dt. Every env here runs 1000
steps unless it ends early.
"""

from __future__ import annotations

import numpy as np

from envs.card import EnvCard, ShapingTerm, State, StateVar
from envs.extract import Infos, batch_obs, info_array, read_only
from envs.mujoco_spatial import SPATIAL_CARDS
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

_CLIPPED = " (clipped to [-10, 10] in the observation)"


def _planar_vars(joints: str, n_joints: int, clipped: str = "") -> tuple[StateVar, ...]:
    """Variables every planar walker shares (root x, pitch, joints)."""
    return (
        StateVar("x_position", (), "x position of the torso (+x is forward)", "m"),
        StateVar("x_velocity", (), "forward velocity of the torso over the last step", "m/s"),
        StateVar("torso_angle", (), "pitch of the torso: 0 = as at reset, + = nose down", "rad"),
        StateVar("z_velocity", (), f"vertical velocity of the torso{clipped}", "m/s"),
        StateVar("torso_angular_velocity", (), f"pitch rate of the torso{clipped}", "rad/s"),
        StateVar("joint_angles", (n_joints,), f"joint angles: {joints}", "rad"),
        StateVar(
            "joint_velocities", (n_joints,), f"joint velocities, same order{clipped}", "rad/s"
        ),
    )


def _planar_state(o: np.ndarray, infos: Infos, n_joints: int) -> dict[str, np.ndarray]:
    """Columns of the planar layout: obs = qpos[1:] (z, pitch, joints) + qvel (x, z, pitch,
    joints)."""
    batch, vel = len(o), 2 + n_joints
    return {
        "x_position": info_array(infos, "x_position", batch),
        "x_velocity": info_array(infos, "x_velocity", batch),
        "torso_angle": o[:, 1],
        "z_velocity": o[:, vel + 1],
        "torso_angular_velocity": o[:, vel + 2],
        "joint_angles": o[:, 2:vel],
        "joint_velocities": o[:, vel + 3 :],
        "obs": o,
    }


# --- HalfCheetah -----------------------------------------------------------------


def _extract_half_cheetah(obs: np.ndarray, infos: Infos) -> State:
    o = batch_obs(obs, 17)
    state = _planar_state(o, infos, 6)
    state["z_position"] = o[:, 0]
    state["is_upright"] = np.cos(o[:, 1]) > 0.0
    return read_only(state)


HALF_CHEETAH = EnvCard(
    env_id="HalfCheetah-v5",
    description="A 2-D cheetah in the x-z plane: a torso with a back and a front leg "
    "(thigh, shin, foot each). The env's own reward pays forward velocity minus "
    "0.1 * squared action. Episodes never end early: 1000 steps of dt = 0.05 s.",
    action_description="6 joint torques, each in [-1, 1]: 0 back thigh, 1 back shin, "
    "2 back foot, 3 front thigh, 4 front shin, 5 front foot.",
    state_vars=(
        *_planar_vars("back thigh, back shin, back foot, front thigh, front shin, front foot", 6),
        StateVar("z_position", (), "height of the torso relative to its height at reset", "m"),
        StateVar("is_upright", (), "1 while the back faces up (cos(torso_angle) > 0)", "0/1"),
        obs_var(17),
    ),
    extract=_extract_half_cheetah,
    fitness_metrics=(
        *distance_metrics(0.05, 50.0),
        flag_steps_metric(
            "upright_steps", "is_upright", "the cheetah is not flipped onto its back", 950, 1000
        ),
    ),
    shaping_terms=(
        in_env_reward(CTRL_COST, 0.1),
        ShapingTerm("upright", 'np.cos(state["torso_angle"])'),
        ShapingTerm("pitch_rate", 'np.square(state["torso_angular_velocity"])', sign=-1.0),
    ),
    training=zoo_defaults("HalfCheetah-v5"),
    short_training=short_budget_defaults("HalfCheetah-v5"),
)


# --- Hopper and Walker2d: they end when they fall ---------------------------------


def _extract_hopper(obs: np.ndarray, infos: Infos) -> State:
    o = batch_obs(obs, 11)
    state = _planar_state(o, infos, 3)
    state["torso_height"] = o[:, 0]
    # The env's own test; velocities are seen clipped, as the policy sees them.
    state["is_healthy"] = (
        (o[:, 0] > 0.7) & (np.abs(o[:, 1]) < 0.2) & np.all(np.abs(o[:, 1:]) < 100.0, axis=1)
    )
    return read_only(state)


def _extract_walker(obs: np.ndarray, infos: Infos) -> State:
    o = batch_obs(obs, 17)
    state = _planar_state(o, infos, 6)
    state["torso_height"] = o[:, 0]
    state["is_healthy"] = (o[:, 0] > 0.8) & (o[:, 0] < 2.0) & (np.abs(o[:, 1]) < 1.0)
    return read_only(state)


def _walker_terms() -> tuple[ShapingTerm, ...]:
    """Hopper's and Walker2d's: their env reward pays 1 per healthy step (v5) and
    0.001 * squared action."""
    return (
        ALIVE,
        in_env_reward(state_term("healthy", "is_healthy"), 1.0),
        in_env_reward(CTRL_COST, 0.001),
        ShapingTerm("upright", 'np.cos(state["torso_angle"])'),
        state_term("height", "torso_height"),
    )


HOPPER = EnvCard(
    env_id="Hopper-v5",
    description="A 2-D one-legged hopper in the x-z plane: torso, thigh, leg and foot. "
    "The env's own reward pays forward velocity + 1 per healthy step - 0.001 * squared "
    "action. The episode ends when the hopper is unhealthy (torso height <= 0.7 m, "
    "|torso angle| >= 0.2 rad, or a joint angle or velocity beyond +-100) or after "
    "1000 steps of dt = 0.008 s.",
    action_description="3 joint torques, each in [-1, 1]: 0 thigh (hip), 1 leg (knee), 2 foot.",
    state_vars=(
        *_planar_vars("thigh (hip), leg (knee), foot", 3, _CLIPPED),
        StateVar("torso_height", (), "height of the torso above the ground (1.25 at reset)", "m"),
        StateVar("is_healthy", (), "1 while the env's health test passes (else it ends)", "0/1"),
        obs_var(11),
    ),
    extract=_extract_hopper,
    fitness_metrics=(
        *distance_metrics(0.008, 8.0),
        flag_steps_metric("upright_steps", "is_healthy", "the hopper is healthy", 950, 1000),
    ),
    shaping_terms=_walker_terms(),
    training=zoo_defaults("Hopper-v5"),
    short_training=short_budget_defaults("Hopper-v5"),
)

WALKER2D = EnvCard(
    env_id="Walker2d-v5",
    description="A 2-D biped in the x-z plane: a torso and two legs (thigh, leg, foot "
    "each). The env's own reward pays forward velocity + 1 per healthy step - 0.001 * "
    "squared action. The episode ends when the walker is unhealthy (torso height "
    "outside (0.8, 2.0) m or torso angle outside (-1, 1) rad) or after 1000 steps of "
    "dt = 0.008 s.",
    action_description="6 joint torques, each in [-1, 1]: 0 right thigh (hip), 1 right leg "
    "(knee), 2 right foot, 3 left thigh, 4 left leg, 5 left foot.",
    state_vars=(
        *_planar_vars(
            "right thigh, right leg (knee), right foot, left thigh, left leg, left foot",
            6,
            _CLIPPED,
        ),
        StateVar("torso_height", (), "height of the torso above the ground (1.25 at reset)", "m"),
        StateVar("is_healthy", (), "1 while the env's health test passes (else it ends)", "0/1"),
        obs_var(17),
    ),
    extract=_extract_walker,
    fitness_metrics=(
        *distance_metrics(0.008, 8.0),
        flag_steps_metric("upright_steps", "is_healthy", "the walker is healthy", 950, 1000),
    ),
    shaping_terms=_walker_terms(),
    training=zoo_defaults("Walker2d-v5"),
    short_training=short_budget_defaults("Walker2d-v5"),
)


# --- Swimmer -----------------------------------------------------------------------


def _extract_swimmer(obs: np.ndarray, infos: Infos) -> State:
    o = batch_obs(obs, 8)
    batch = len(o)
    return read_only(
        {
            "x_position": info_array(infos, "x_position", batch),
            "y_position": info_array(infos, "y_position", batch),
            "x_velocity": info_array(infos, "x_velocity", batch),
            "y_velocity": info_array(infos, "y_velocity", batch),
            "distance_from_origin": info_array(infos, "distance_from_origin", batch),
            "heading": o[:, 0],
            "angular_velocity": o[:, 5],
            "joint_angles": o[:, 1:3],
            "joint_velocities": o[:, 6:8],
            "obs": o,
        }
    )


SWIMMER = EnvCard(
    env_id="Swimmer-v5",
    description="A three-segment swimmer in a viscous fluid, moving in the x-y plane, with "
    "a rotor between each pair of segments. The env's own reward pays velocity along "
    "+x - 1e-4 * squared action. Episodes never end early: 1000 steps of dt = 0.04 s.",
    action_description="2 rotor torques, each in [-1, 1]: 0 front rotor (front-middle "
    "segment), 1 back rotor (middle-back segment).",
    state_vars=(
        StateVar("x_position", (), "x position of the front segment (+x is forward)", "m"),
        StateVar("y_position", (), "y position of the front segment (sideways)", "m"),
        StateVar("x_velocity", (), "velocity along +x over the last step", "m/s"),
        StateVar("y_velocity", (), "sideways velocity over the last step", "m/s"),
        StateVar("distance_from_origin", (), "distance from the start point in the plane", "m"),
        StateVar("heading", (), "angle of the front segment in the plane; 0 = facing +x", "rad"),
        StateVar("angular_velocity", (), "turning rate of the front segment", "rad/s"),
        StateVar("joint_angles", (2,), "rotor angles: front, back", "rad"),
        StateVar("joint_velocities", (2,), "rotor velocities: front, back", "rad/s"),
        obs_var(8),
    ),
    extract=_extract_swimmer,
    fitness_metrics=distance_metrics(0.04, 5.0),
    shaping_terms=(
        in_env_reward(CTRL_COST, 1e-4),
        ShapingTerm("sideways_drift", 'np.abs(state["y_velocity"])', sign=-1.0),
        ShapingTerm("heading_forward", 'np.cos(state["heading"])'),
    ),
    training=zoo_defaults("Swimmer-v5"),
)

CARDS: tuple[EnvCard, ...] = (HALF_CHEETAH, HOPPER, WALKER2D, *SPATIAL_CARDS, SWIMMER)
