"""The offline proposer's first sample is the env's own reward aimed at the metric.

Checked against the simulator: on real random steps of each env, the sample's
shaping components add up to the env's reward less its task term (the
``reward_forward`` the v5 locomotion envs report), and for a forward-distance
metric whose progress weight is the env's own velocity weight the sample's total
is the env's reward itself.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from app.llm.extract import extract_code
from app.llm.offline import OfflineProposer
from app.llm.offline_genome import PROGRESS, canonical_genome, env_reward_genome, term_pool
from envs import get_card
from sandbox.reward_code import check_reward, load_reward

STEPS = 40


def first_sample(env_id: str, metric: str) -> tuple[str, str]:
    card = get_card(env_id)
    proposer = OfflineProposer(card=card, metric=card.metric(metric))
    response = proposer.propose(messages=[], n=1, iteration=0, seed=0)[0]
    text = response.text or ""
    return text, extract_code(text)


def env_steps(env_id: str) -> list[tuple[dict[str, np.ndarray], np.ndarray, float, dict]]:
    """Random steps of one real env: (card state of batch 1, action, reward, info)."""
    card = get_card(env_id)
    env = gym.make(env_id, **card.make_kwargs)
    env.reset(seed=0)
    env.action_space.seed(0)
    out = []
    try:
        for _ in range(STEPS):
            action = env.action_space.sample()
            obs, reward, terminated, truncated, info = env.step(action)
            state = card.extract(np.asarray(obs)[None], [info])
            out.append((state, np.asarray(action)[None], float(reward), info))
            if terminated or truncated:
                env.reset()
    finally:
        env.close()
    return out


@pytest.mark.parametrize(
    ("env_id", "metric", "exact"),
    [
        ("HalfCheetah-v5", "forward_distance", True),
        ("Hopper-v5", "forward_distance", True),
        ("Walker2d-v5", "backward_distance", False),
        ("Ant-v5", "backward_distance", False),
        ("Swimmer-v5", "forward_distance", False),
    ],
)
def test_first_sample_is_the_env_reward_with_the_metric_as_its_task_term(
    env_id: str, metric: str, exact: bool
) -> None:
    text, code = first_sample(env_id, metric)
    assert text.startswith("I start from the env's own reward")
    reward = load_reward(code)
    for state, action, env_reward, info in env_steps(env_id):
        total, parts = check_reward(reward, state, action)
        shaping = sum(value for name, value in parts.items() if name != PROGRESS)
        np.testing.assert_allclose(shaping, env_reward - info["reward_forward"], atol=1e-6)
        if exact:
            np.testing.assert_allclose(total, env_reward, atol=1e-6)


def test_cards_without_env_weights_start_from_the_canonical_genome() -> None:
    card = get_card("CartPole-v1")
    pool = term_pool(card, card.default_metric)
    assert env_reward_genome(card, pool) is None
    proposer = OfflineProposer(card=card, metric=card.default_metric)
    assert proposer.seeds == [canonical_genome(pool)]
    text = proposer.propose(messages=[], n=1, iteration=0, seed=0)[0].text or ""
    assert text.startswith("This reward pays for progress")


def test_the_canonical_genome_follows_the_env_reward_in_the_first_iteration() -> None:
    card = get_card("Pendulum-v1")
    pool = term_pool(card, card.default_metric)
    proposer = OfflineProposer(card=card, metric=card.default_metric)
    env_genome = env_reward_genome(card, pool)
    assert env_genome is not None
    assert [g.name for g in env_genome] == [PROGRESS, "angle_sq", "spin", "ctrl_cost"]
    assert [g.weight for g in env_genome[1:]] == [1.0, 0.1, 0.001]
    assert proposer.seeds == [env_genome, canonical_genome(pool)]
