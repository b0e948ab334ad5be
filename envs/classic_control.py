"""Cards for Gymnasium's classic-control tasks: CartPole, Pendulum,
MountainCarContinuous and Acrobot.

Their step infos are empty, so every variable comes from the observation.
CartPole and Acrobot have discrete actions: ``action`` is then an int array of
shape (B,), and a control cost has no meaning.
"""

from __future__ import annotations

import math

import numpy as np

from envs.card import EnvCard, FitnessMetric, ShapingTerm, State, StateVar
from envs.extract import Infos, angle_of, batch_obs, read_only
from envs.terms import ALIVE, CTRL_COST, flag_steps_metric, in_env_reward, obs_var, state_term
from envs.zoo import zoo_defaults

# --- CartPole ---------------------------------------------------------------------------

_CARTPOLE_MAX_ANGLE = 12 * 2 * math.pi / 360  # the env's own limit, 0.2094 rad


def _extract_cartpole(obs: np.ndarray, infos: Infos) -> State:
    o = batch_obs(obs, 4)
    return read_only(
        {
            "cart_position": o[:, 0],
            "cart_velocity": o[:, 1],
            "pole_angle": o[:, 2],
            "pole_angular_velocity": o[:, 3],
            "is_balanced": (np.abs(o[:, 0]) <= 2.4) & (np.abs(o[:, 2]) <= _CARTPOLE_MAX_ANGLE),
            "obs": o,
        }
    )


CARTPOLE = EnvCard(
    env_id="CartPole-v1",
    description="A pole hinged on a cart that moves along a frictionless track. The env's "
    "own reward pays 1 per step, the last one included. The episode ends when the pole "
    "tilts more than 12 degrees (0.2094 rad) from vertical or the cart leaves [-2.4, 2.4] "
    "m, or after 500 steps of dt = 0.02 s.",
    action_description="Discrete, 2 choices (an int per env): 0 pushes the cart left (-x), "
    "1 pushes it right (+x), with a fixed force of 10 N.",
    state_vars=(
        StateVar("cart_position", (), "cart position on the track (0 = centre)", "m"),
        StateVar("cart_velocity", (), "cart velocity", "m/s"),
        StateVar("pole_angle", (), "pole angle from vertical, + = tilted right", "rad"),
        StateVar("pole_angular_velocity", (), "pole angular velocity", "rad/s"),
        StateVar("is_balanced", (), "1 while pole and cart are within the limits", "0/1"),
        obs_var(4),
    ),
    extract=_extract_cartpole,
    fitness_metrics=(
        flag_steps_metric(
            "balanced_steps", "is_balanced", "pole and cart are within the limits", 475, 500
        ),
    ),
    shaping_terms=(
        ALIVE,
        ShapingTerm("pole_tilt", 'np.square(state["pole_angle"])', sign=-1.0),
        ShapingTerm("cart_offset", 'np.square(state["cart_position"])', sign=-1.0),
        ShapingTerm("pole_speed", 'np.square(state["pole_angular_velocity"])', sign=-1.0),
    ),
    training=zoo_defaults("CartPole-v1"),
)


# --- Pendulum ---------------------------------------------------------------------------


def _extract_pendulum(obs: np.ndarray, infos: Infos) -> State:
    o = batch_obs(obs, 3)
    return read_only(
        {
            "angle": angle_of(o[:, 1], o[:, 0]),
            "uprightness": o[:, 0],
            "angular_velocity": o[:, 2],
            "is_upright": o[:, 0] > 0.95,
            "obs": o,
        }
    )


PENDULUM = EnvCard(
    env_id="Pendulum-v1",
    description="A rigid pendulum (1 m) on a motorised pivot, starting at a random angle and "
    "speed; the motor is too weak to lift it straight up, so it must swing up. The env's "
    "own reward pays -(angle^2 + 0.1 * angular_velocity^2 + 0.001 * torque^2). Episodes "
    "never end early: 200 steps of dt = 0.05 s.",
    action_description="1 torque on the pivot, in [-2, 2] N*m.",
    state_vars=(
        StateVar("angle", (), "angle from upright, in [-pi, pi] (0 = up, +-pi = down)", "rad"),
        StateVar("uprightness", (), "cos(angle): 1 up, -1 hanging down", ""),
        StateVar("angular_velocity", (), "angular velocity, in [-8, 8]", "rad/s"),
        StateVar("is_upright", (), "1 while uprightness > 0.95 (within ~18 degrees)", "0/1"),
        obs_var(3),
    ),
    extract=_extract_pendulum,
    fitness_metrics=(
        FitnessMetric(
            name="mean_uprightness",
            description="Mean of cos(angle) over the episode (1 = always up, -1 = always "
            "down). Success: 0.6, which a swing-up from hanging down and holding reaches.",
            step=lambda state, action: state["uprightness"],
            reduce="mean",
            success_threshold=0.6,
            expression='state["uprightness"]',
        ),
        flag_steps_metric("upright_steps", "is_upright", "the pendulum is upright", 100, 200),
    ),
    shaping_terms=(
        state_term("uprightness", "uprightness"),
        ShapingTerm("angle_sq", 'np.square(state["angle"])', sign=-1.0, env_weight=1.0),
        ShapingTerm("spin", 'np.square(state["angular_velocity"])', sign=-1.0, env_weight=0.1),
        in_env_reward(CTRL_COST, 0.001),
    ),
    training=zoo_defaults("Pendulum-v1"),
)


# --- MountainCarContinuous -----------------------------------------------------------------


def _extract_mountain_car(obs: np.ndarray, infos: Infos) -> State:
    o = batch_obs(obs, 2)
    return read_only(
        {
            "position": o[:, 0],
            "velocity": o[:, 1],
            "height": np.sin(3.0 * o[:, 0]),
            "reached_goal": (o[:, 0] >= 0.45) & (o[:, 1] >= 0.0),
            "obs": o,
        }
    )


MOUNTAIN_CAR_CONTINUOUS = EnvCard(
    env_id="MountainCarContinuous-v0",
    description="An under-powered car in a valley between two hills; it must rock back and "
    "forth to build momentum and reach the flag on top of the right hill (position 0.45). "
    "The env's own reward pays 100 on reaching the flag - 0.1 * action^2 per step. The "
    "episode ends at the flag or after 999 steps.",
    action_description="1 engine force, in [-1, 1] (+ pushes right, towards the flag).",
    state_vars=(
        StateVar("position", (), "car position, in [-1.2, 0.6]; valley floor ~-0.52", ""),
        StateVar("velocity", (), "car velocity, in [-0.07, 0.07] per step", "1/step"),
        StateVar("height", (), "track height sin(3 * position): -1 valley floor, ~1 flag", ""),
        StateVar("reached_goal", (), "1 once the car is at the flag (the episode ends)", "0/1"),
        obs_var(2),
    ),
    extract=_extract_mountain_car,
    fitness_metrics=(
        FitnessMetric(
            name="reach_flag",
            description="Highest position reached in the episode; at least 0.45 means the "
            "car reached the flag.",
            step=lambda state, action: state["position"],
            reduce="max",
            success_threshold=0.45,
            expression='state["position"]',
        ),
        FitnessMetric(
            name="goal_reached",
            description="1 if the car reached the flag in the episode, else 0.",
            step=lambda state, action: state["reached_goal"],
            reduce="max",
            success_threshold=1.0,
            expression='state["reached_goal"]',
        ),
    ),
    shaping_terms=(
        ShapingTerm("speed", 'np.abs(state["velocity"])'),
        state_term("height", "height"),
        in_env_reward(CTRL_COST, 0.1),
    ),
    training=zoo_defaults("MountainCarContinuous-v0"),
)


# --- Acrobot --------------------------------------------------------------------------------


def _extract_acrobot(obs: np.ndarray, infos: Infos) -> State:
    o = batch_obs(obs, 6)
    cos1, sin1, cos2, sin2 = o[:, 0], o[:, 1], o[:, 2], o[:, 3]
    tip_height = -cos1 - (cos1 * cos2 - sin1 * sin2)  # -cos(t1) - cos(t1 + t2)
    return read_only(
        {
            "link_angles": angle_of(o[:, [1, 3]], o[:, [0, 2]]),
            "link_cos": o[:, [0, 2]],
            "link_sin": o[:, [1, 3]],
            "angular_velocities": o[:, 4:6],
            "tip_height": tip_height,
            "is_above_goal": tip_height > 1.0,
            "obs": o,
        }
    )


ACROBOT = EnvCard(
    env_id="Acrobot-v1",
    description="Two 1 m links hanging from a fixed pivot, with a motor only at the joint "
    "between them; the free end must be swung up to 1 m above the pivot. The env's own "
    "reward pays -1 per step until then. The episode ends when the tip rises above 1 m or "
    "after 500 steps of dt = 0.2 s.",
    action_description="Discrete, 3 choices (an int per env): torque on the middle joint "
    "of 0 -> -1, 1 -> 0, 2 -> +1 N*m.",
    state_vars=(
        StateVar(
            "link_angles", (2,), "first link from hanging down, second relative to first", "rad"
        ),
        StateVar("link_cos", (2,), "cos of link_angles", ""),
        StateVar("link_sin", (2,), "sin of link_angles", ""),
        StateVar("angular_velocities", (2,), "link angular velocities (|.| <= 4pi, 9pi)", "rad/s"),
        StateVar("tip_height", (), "height of the free end above the pivot, in [-2, 2]", "m"),
        StateVar("is_above_goal", (), "1 once tip_height > 1 (the episode ends)", "0/1"),
        obs_var(6),
    ),
    extract=_extract_acrobot,
    fitness_metrics=(
        FitnessMetric(
            name="max_tip_height",
            description="Highest tip height in the episode; above 1 m the task is solved.",
            step=lambda state, action: state["tip_height"],
            reduce="max",
            success_threshold=1.0,
            expression='state["tip_height"]',
            unit="m",
        ),
    ),
    shaping_terms=(
        state_term("tip_height", "tip_height"),
        ShapingTerm("swing_energy", 'np.sum(np.square(state["angular_velocities"]), axis=-1)'),
        ShapingTerm("time_penalty", 'np.ones(state["obs"].shape[0])', sign=-1.0),
    ),
    training=zoo_defaults("Acrobot-v1"),
)

CARDS: tuple[EnvCard, ...] = (CARTPOLE, PENDULUM, MOUNTAIN_CAR_CONTINUOUS, ACROBOT)
