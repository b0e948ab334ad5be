"""The fake LLM's scripted answers behave as their names say on real envs."""

from __future__ import annotations

import pytest

from app.llm.extract import ExtractionError, extract_code
from envs import get_card, list_cards
from sandbox.reward_code import RewardContractError, check_reward, load_reward
from tests.envs.rollouts import rollout
from tests.fake_llm import buggy_reward_response, good_reward_response, prose_only_response

ENV_IDS = [card.env_id for card in list_cards()]


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_good_response_passes_the_contract_on_real_states(env_id: str):
    card = get_card(env_id)
    reward = load_reward(extract_code(good_reward_response(card)))
    for step in rollout(card, steps=5):
        total, parts = check_reward(reward, step.state, step.action)
        assert set(parts) == {"progress", "effort_penalty"}


@pytest.mark.parametrize(("kind", "message"), [("name_error", "NameError"), ("shape", "shape")])
def test_buggy_responses_fail_the_contract(kind: str, message: str):
    card = get_card("Pendulum-v1")
    reward = load_reward(extract_code(buggy_reward_response(card, kind)))
    step = rollout(card, steps=1)[0]
    with pytest.raises(RewardContractError, match=message):
        check_reward(reward, step.state, step.action)


def test_prose_only_response_has_no_code():
    with pytest.raises(ExtractionError):
        extract_code(prose_only_response())
