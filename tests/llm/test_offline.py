"""The offline proposer writes valid reward code from real cards and evolves it."""

from __future__ import annotations

import ast
from dataclasses import replace
from functools import cache

import numpy as np
import pytest

from app.evolution.validate import check_code
from app.llm.extract import code_hash, extract_code
from app.llm.offline import OfflineProposer
from app.llm.offline_code import parse_genome, render_code
from app.llm.offline_genome import (
    PROGRESS,
    Gene,
    mutate,
    progress_weight,
    random_genome,
    term_pool,
)
from envs import get_card, list_cards
from envs.card import EnvCard
from sandbox.reward_code import check_reward, load_reward
from sandbox.torch_reward import torch_reward
from tests.envs.rollouts import Step, rollout
from tests.fake_llm import good_reward_response

CARD_METRICS = [
    (card.env_id, metric.name) for card in list_cards() for metric in card.fitness_metrics
]


@cache
def steps_of(env_id: str) -> list[Step]:
    return rollout(get_card(env_id), steps=12)


def propose(card: EnvCard, metric: str | None = None, **kwargs: object) -> list[str]:
    proposer = OfflineProposer(
        card=card, metric=card.metric(metric) if metric else card.default_metric
    )
    options = {"messages": [], "n": 4, "iteration": 0, "seed": 0, **kwargs}
    return [response.text or "" for response in proposer.propose(**options)]  # type: ignore[arg-type]


def assert_contract_on_real_states(code: str, env_id: str) -> list[dict[str, np.ndarray]]:
    """Run ``code`` on every step of a real rollout; return the components per step."""
    reward = load_reward(code)
    return [check_reward(reward, step.state, step.action)[1] for step in steps_of(env_id)]


@pytest.mark.parametrize(("env_id", "metric"), CARD_METRICS)
def test_code_of_every_generation_passes_the_contract_on_real_states(env_id: str, metric: str):
    card = get_card(env_id)
    texts = propose(card, metric)
    for iteration in range(1, 4):
        parent = extract_code(texts[-1])
        texts = propose(card, metric, iteration=iteration, parent_code=parent)
        for text in texts:
            components = assert_contract_on_real_states(extract_code(text), env_id)
            assert all(PROGRESS in parts for parts in components)


@pytest.mark.parametrize(
    ("env_id", "weight"),
    [("MountainCarContinuous-v0", 1.0), ("HalfCheetah-v5", 20.0), ("Reacher-v5", 1.0)],
)
def test_first_sample_pays_the_metric_step_signed_by_its_direction(env_id: str, weight: float):
    """Weighted so that a summed metric at its success pace pays about 1 per step:
    HalfCheetah's 50 m in 1000 steps gives 20 (x_velocity * 0.05 * 20 = x_velocity)."""
    card = get_card(env_id)
    metric = card.default_metric
    assert progress_weight(card, metric) == weight
    code = extract_code(propose(card)[0])
    sign = 1.0 if metric.higher_is_better else -1.0
    for step, parts in zip(
        steps_of(env_id), assert_contract_on_real_states(code, env_id), strict=True
    ):
        expected = sign * weight * metric.step(step.state, step.action)
        np.testing.assert_allclose(parts[PROGRESS], expected, rtol=1e-6)


def test_the_sample_bounding_progress_keeps_its_scale():
    """A tanh-bounded progress term saturates near the success pace, not far below it."""
    card = get_card("Hopper-v5")
    pool = term_pool(card, card.default_metric)
    for seed in range(40):
        progress = random_genome(pool, np.random.default_rng(seed))[0]
        if progress.transform == "tanh":
            assert progress.weight == 1.0
            assert 0.3 / pool[0].weight <= progress.temperature <= 3.0 / pool[0].weight
            return
    pytest.fail("no tanh-bounded progress in 40 draws")


def test_same_seed_gives_the_same_responses_and_another_seed_others():
    card = get_card("HalfCheetah-v5")
    assert propose(card, seed=3) == propose(card, seed=3)
    assert propose(card, seed=3)[1:] != propose(card, seed=4)[1:]
    parent = extract_code(propose(card)[2])
    again = [propose(card, iteration=5, seed=1, parent_code=parent) for _ in range(2)]
    assert again[0] == again[1]


def test_samples_of_one_iteration_are_distinct():
    card = get_card("CartPole-v1")
    for iteration, parent in ((0, None), (1, extract_code(propose(card)[0]))):
        texts = propose(card, n=8, iteration=iteration, parent_code=parent)
        assert len({code_hash(extract_code(t)) for t in texts}) == 8


def test_responses_read_like_a_model_answer():
    text = propose(get_card("Pendulum-v1"), n=1)[0]
    prose, _, rest = text.partition("```python\n")
    assert "progress" in prose and rest.rstrip().endswith("```")


def test_mutation_changes_weights_and_says_what_changed():
    card = get_card("HalfCheetah-v5")
    parent_code = extract_code(propose(card)[0])
    parent = parse_genome(parent_code)
    assert parent is not None
    for text in propose(card, iteration=1, parent_code=parent_code, n=6):
        child = parse_genome(extract_code(text))
        assert child is not None and child != parent
        assert child[0].name == PROGRESS
        assert text.startswith("Starting from the parent reward, I ")
        shared = {g.name for g in child} & {g.name for g in parent}
        weights = {g.name: g.weight for g in parent}
        assert any(g.weight != weights[g.name] for g in child if g.name in shared)


def test_progress_term_survives_many_generations():
    card = get_card("Hopper-v5")
    pool = term_pool(card, card.default_metric)
    genome = pool
    rng = np.random.default_rng(0)
    for _ in range(200):
        genome = mutate(genome, pool, rng)
        assert genome[0].name == PROGRESS
        assert len({g.name for g in genome}) == len(genome)


def test_genome_is_read_back_from_its_code():
    card = get_card("Pendulum-v1")
    pool = term_pool(card, card.default_metric)
    genome = (
        pool[0],
        replace(pool[1], weight=0.25, transform="tanh", temperature=0.5),
        replace(pool[2], weight=0.03, transform="exp", temperature=2.0),
        replace(pool[3], weight=0.001),
    )
    parsed = parse_genome(render_code(genome, card.state_vars[0].name))
    assert parsed is not None
    assert [_canonical(g) for g in parsed] == [_canonical(g) for g in genome]


def test_unreadable_parent_code_starts_afresh():
    card = get_card("MountainCarContinuous-v0")
    parent = extract_code(good_reward_response(card))
    texts = propose(card, iteration=1, parent_code=parent)
    assert all(t.startswith("The parent reward is not in a form I can mutate") for t in texts)
    for text in texts:
        assert_contract_on_real_states(extract_code(text), "MountainCarContinuous-v0")


def test_card_without_state_variables_is_refused():
    card = replace(get_card("CartPole-v1"), state_vars=())
    with pytest.raises(ValueError, match="lists no state variables"):
        OfflineProposer(card=card, metric=card.default_metric)


def _canonical(gene: Gene) -> Gene:
    expression = ast.unparse(ast.parse(gene.expression))
    temperature = gene.temperature if gene.transform != "linear" else 1.0
    return replace(gene, expression=expression, temperature=temperature)


@pytest.mark.parametrize("env_id", [card.env_id for card in list_cards()])
def test_torch_rendering_computes_what_the_numpy_one_does(env_id: str) -> None:
    card = get_card(env_id)
    proposer = OfflineProposer(card=card, metric=card.default_metric, backend="torch")
    for text in (r.text or "" for r in proposer.propose(messages=[], n=4, iteration=0, seed=3)):
        code = extract_code(text)
        check_code(code, "torch")
        genome = parse_genome(code)
        assert genome is not None and "torch" not in repr(genome)  # genomes stay numpy
        numpy_reward = load_reward(render_code(genome, card.state_vars[0].name))
        torch_fn = torch_reward(load_reward(code), "cpu")
        for step in steps_of(env_id):
            want = check_reward(numpy_reward, step.state, step.action)[0]
            got = check_reward(torch_fn, step.state, step.action)[0]
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
