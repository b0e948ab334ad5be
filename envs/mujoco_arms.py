"""Cards for the fixed-base MuJoCo v5 tasks: the Reacher and Pusher arms and the
cart-mounted InvertedPendulum and InvertedDoublePendulum.

Positions are in the world frame of each scene, in metres; the arms' reward
fields (``reward_dist``, ``reward_near``) are recomputed here from the
observation so that the state never depends on the reward weights.
"""

from __future__ import annotations

import numpy as np

from envs.card import EnvCard, FitnessMetric, Reduce, ShapingTerm, State, StateVar
from envs.extract import Infos, angle_of, batch_obs, read_only
from envs.terms import ALIVE, CTRL_COST, flag_steps_metric, in_env_reward, obs_var, state_term
from envs.zoo import zoo_defaults


def _distance_metric(
    name: str, var: str, reduce: Reduce, threshold: float, what: str
) -> FitnessMetric:
    """A lower-is-better distance read from one state variable."""
    return FitnessMetric(
        name=name,
        description=f"{what}. Success: at most {threshold:g} m.",
        step=lambda state, action: state[var],
        reduce=reduce,
        success_threshold=threshold,
        expression=f'state["{var}"]',
        higher_is_better=False,
        unit="m",
    )


# --- Reacher -------------------------------------------------------------------------


def _extract_reacher(obs: np.ndarray, infos: Infos) -> State:
    o = batch_obs(obs, 10)
    target, tip_minus_target = o[:, 4:6], o[:, 8:10]
    return read_only(
        {
            "joint_angles": angle_of(o[:, 2:4], o[:, 0:2]),
            "joint_velocities": o[:, 6:8],
            "target_position": target,
            "fingertip_position": target + tip_minus_target,
            "fingertip_to_target": -tip_minus_target,
            "fingertip_distance": np.linalg.norm(tip_minus_target, axis=1),
            "obs": o,
        }
    )


REACHER = EnvCard(
    env_id="Reacher-v5",
    description="A two-link planar arm (links of 0.1 m and 0.11 m) fixed at the centre of "
    "a flat arena; a target appears at a random point within 0.2 m of the centre. The "
    "env's own reward pays -distance(fingertip, target) - squared action. Episodes never "
    "end early: 50 steps of dt = 0.02 s.",
    action_description="2 joint torques, each in [-1, 1]: 0 shoulder (first link), "
    "1 elbow (second link).",
    state_vars=(
        StateVar("joint_angles", (2,), "shoulder and elbow angles, in [-pi, pi]", "rad"),
        StateVar("joint_velocities", (2,), "shoulder and elbow angular velocities", "rad/s"),
        StateVar("target_position", (2,), "target (x, y); fixed during an episode", "m"),
        StateVar("fingertip_position", (2,), "fingertip (x, y)", "m"),
        StateVar("fingertip_to_target", (2,), "target minus fingertip (x, y)", "m"),
        StateVar("fingertip_distance", (), "distance from fingertip to target", "m"),
        obs_var(10),
    ),
    extract=_extract_reacher,
    fitness_metrics=(
        _distance_metric(
            "final_distance",
            "fingertip_distance",
            "last",
            0.02,
            "Fingertip-to-target distance at the episode's last step",
        ),
        _distance_metric(
            "mean_distance",
            "fingertip_distance",
            "mean",
            0.05,
            "Mean fingertip-to-target distance over the episode",
        ),
    ),
    shaping_terms=(
        in_env_reward(state_term("distance", "fingertip_distance", sign=-1.0), 1.0),
        in_env_reward(CTRL_COST, 1.0),
        ShapingTerm(
            "joint_speed", 'np.sum(np.square(state["joint_velocities"]), axis=-1)', sign=-1.0
        ),
    ),
    training=zoo_defaults("Reacher-v5"),
)


# --- Pusher --------------------------------------------------------------------------


def _extract_pusher(obs: np.ndarray, infos: Infos) -> State:
    o = batch_obs(obs, 23)
    tip, obj, goal = o[:, 14:17], o[:, 17:20], o[:, 20:23]
    return read_only(
        {
            "joint_angles": o[:, 0:7],
            "joint_velocities": o[:, 7:14],
            "fingertip_position": tip,
            "object_position": obj,
            "goal_position": goal,
            "fingertip_to_object": obj - tip,
            "fingertip_object_distance": np.linalg.norm(obj - tip, axis=1),
            "object_to_goal": goal - obj,
            "object_goal_distance": np.linalg.norm(goal - obj, axis=1),
            "obs": o,
        }
    )


_PUSHER_JOINTS = (
    "shoulder pan, shoulder lift, upper-arm roll, elbow flex, forearm roll, wrist flex, wrist roll"
)

PUSHER = EnvCard(
    env_id="Pusher-v5",
    description="A 7-joint robot arm over a table with a cylindrical object and a goal "
    "spot on it; the arm must push the object onto the goal. The env's own reward pays "
    "-distance(object, goal) - 0.5 * distance(fingertip, object) - 0.1 * squared action. "
    "Episodes never end early: 100 steps of dt = 0.05 s.",
    action_description=f"7 joint torques, each in [-2, 2], in this order: {_PUSHER_JOINTS}.",
    state_vars=(
        StateVar("joint_angles", (7,), f"joint angles: {_PUSHER_JOINTS}", "rad"),
        StateVar("joint_velocities", (7,), "joint velocities, same order", "rad/s"),
        StateVar("fingertip_position", (3,), "fingertip (x, y, z)", "m"),
        StateVar("object_position", (3,), "object (x, y, z)", "m"),
        StateVar("goal_position", (3,), "goal (x, y, z); fixed during an episode", "m"),
        StateVar("fingertip_to_object", (3,), "object minus fingertip", "m"),
        StateVar("fingertip_object_distance", (), "distance from fingertip to object", "m"),
        StateVar("object_to_goal", (3,), "goal minus object", "m"),
        StateVar("object_goal_distance", (), "distance from object to goal", "m"),
        obs_var(23),
    ),
    extract=_extract_pusher,
    fitness_metrics=(
        _distance_metric(
            "final_object_distance",
            "object_goal_distance",
            "last",
            0.1,
            "Object-to-goal distance at the episode's last step (0.17-0.35 m at reset)",
        ),
        _distance_metric(
            "mean_object_distance",
            "object_goal_distance",
            "mean",
            0.15,
            "Mean object-to-goal distance over the episode",
        ),
    ),
    shaping_terms=(
        state_term("object_to_goal", "object_goal_distance", sign=-1.0),
        state_term("reach_object", "fingertip_object_distance", sign=-1.0),
        CTRL_COST,
    ),
    training=zoo_defaults("Pusher-v5"),
)


# --- Inverted pendulums on a cart ----------------------------------------------------------


def _extract_inverted_pendulum(obs: np.ndarray, infos: Infos) -> State:
    o = batch_obs(obs, 4)
    return read_only(
        {
            "cart_position": o[:, 0],
            "pole_angle": o[:, 1],
            "cart_velocity": o[:, 2],
            "pole_angular_velocity": o[:, 3],
            "is_balanced": np.isfinite(o).all(axis=1) & (np.abs(o[:, 1]) <= 0.2),
            "obs": o,
        }
    )


_CART_OFFSET = ShapingTerm("cart_offset", 'np.square(state["cart_position"])', sign=-1.0)

INVERTED_PENDULUM = EnvCard(
    env_id="InvertedPendulum-v5",
    description="A pole hinged on a cart that slides along a rail; the pole starts nearly "
    "upright. The env's own reward pays 1 per step while the pole stays within 0.2 rad "
    "of vertical. The episode ends when it leaves that range or after 1000 steps of "
    "dt = 0.04 s.",
    action_description="1 force on the cart, in [-3, 3] (+ pushes towards +x).",
    state_vars=(
        StateVar("cart_position", (), "cart position along the rail (0 = centre)", "m"),
        StateVar("pole_angle", (), "pole angle from vertical", "rad"),
        StateVar("cart_velocity", (), "cart velocity", "m/s"),
        StateVar("pole_angular_velocity", (), "pole angular velocity", "rad/s"),
        StateVar("is_balanced", (), "1 while |pole_angle| <= 0.2 (else the episode ends)", "0/1"),
        obs_var(4),
    ),
    extract=_extract_inverted_pendulum,
    fitness_metrics=(
        flag_steps_metric("balanced_steps", "is_balanced", "the pole is balanced", 950, 1000),
    ),
    shaping_terms=(
        ALIVE,
        ShapingTerm("pole_tilt", 'np.square(state["pole_angle"])', sign=-1.0),
        _CART_OFFSET,
        CTRL_COST,
    ),
    training=zoo_defaults("InvertedPendulum-v5"),
)


def _extract_double_pendulum(obs: np.ndarray, infos: Infos) -> State:
    o = batch_obs(obs, 9)
    angles = angle_of(o[:, 1:3], o[:, 3:5])
    first, second = angles[:, 0], angles[:, 0] + angles[:, 1]
    tip_height = 0.6 * np.cos(first) + 0.6 * np.cos(second)
    return read_only(
        {
            "cart_position": o[:, 0],
            "pole_angles": angles,
            "cart_velocity": o[:, 5],
            "pole_angular_velocities": o[:, 6:8],
            "tip_x": o[:, 0] + 0.6 * np.sin(first) + 0.6 * np.sin(second),
            "tip_height": tip_height,
            "is_balanced": tip_height > 1.0,
            "obs": o,
        }
    )


INVERTED_DOUBLE_PENDULUM = EnvCard(
    env_id="InvertedDoublePendulum-v5",
    description="Two 0.6 m poles stacked on a cart that slides along a rail; they start "
    "nearly upright (tip height 1.2 m). The env's own reward pays 10 per step while the "
    "tip is above 1 m - (0.01 * tip_x^2 + (tip_height - 2)^2) - small pole-velocity "
    "penalties. The episode ends when the tip height drops to 1 m or after 1000 steps "
    "of dt = 0.05 s.",
    action_description="1 force on the cart, in [-1, 1] (+ pushes towards +x).",
    state_vars=(
        StateVar("cart_position", (), "cart position along the rail (0 = centre)", "m"),
        StateVar(
            "pole_angles", (2,), "lower pole from vertical, upper pole relative to lower", "rad"
        ),
        StateVar("cart_velocity", (), "cart velocity (clipped to [-10, 10])", "m/s"),
        StateVar(
            "pole_angular_velocities",
            (2,),
            "pole angular velocities (clipped to [-10, 10])",
            "rad/s",
        ),
        StateVar("tip_x", (), "x position of the upper pole's tip", "m"),
        StateVar("tip_height", (), "height of the upper pole's tip (1.2 when upright)", "m"),
        StateVar("is_balanced", (), "1 while tip_height > 1 (else the episode ends)", "0/1"),
        obs_var(9),
    ),
    extract=_extract_double_pendulum,
    fitness_metrics=(
        flag_steps_metric("balanced_steps", "is_balanced", "the poles are balanced", 950, 1000),
    ),
    shaping_terms=(
        ALIVE,
        state_term("tip_height", "tip_height"),
        _CART_OFFSET,
        ShapingTerm(
            "pole_speed", 'np.sum(np.square(state["pole_angular_velocities"]), axis=-1)', -1.0
        ),
    ),
    training=zoo_defaults("InvertedDoublePendulum-v5"),
)

CARDS: tuple[EnvCard, ...] = (REACHER, PUSHER, INVERTED_PENDULUM, INVERTED_DOUBLE_PENDULUM)
