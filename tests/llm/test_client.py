"""The LLM client against a real HTTP server speaking the Chat Completions protocol."""

from __future__ import annotations

import socket
import time

import openai
import pytest

from app.llm.call_store import InMemoryCallStore
from app.llm.client import LLMClient, sample_seed
from app.llm.extract import extract_code
from app.llm.prompting import Reflection, build_messages
from envs import get_card
from tests.fake_llm import (
    FakeLLMServer,
    Garbage,
    Reply,
    Sleep,
    Status,
    good_reward_response,
    prose_only_response,
    rate_limited,
    server_error,
)

MESSAGES = [
    {"role": "system", "content": "You are a reward engineer."},
    {"role": "user", "content": "Write a reward function for: run forward."},
]
ANSWER = "```python\ndef compute_reward(state, action):\n    return state['v'], {}\n```"


def client_for(server: FakeLLMServer, **options: object) -> LLMClient:
    settings = {"timeout_s": 5.0, "max_retries": 2, "store": InMemoryCallStore(), **options}
    return LLMClient(model="fake-model", base_url=server.base_url, api_key="sk-secret", **settings)


def test_n_samples_come_from_one_request_when_the_server_honours_n(fake_llm: FakeLLMServer):
    fake_llm.enqueue(Reply(["a", "b", "c"]))
    responses = client_for(fake_llm).propose(messages=MESSAGES, n=3, iteration=0, seed=7)
    assert [r.text for r in responses] == ["a", "b", "c"]
    [request] = fake_llm.chat_requests
    assert request["n"] == 3 and request["messages"] == MESSAGES
    assert request["seed"] == sample_seed(7, iteration=0, sample=0)
    assert request["model"] == "fake-model"


def test_missing_samples_are_asked_for_concurrently_when_n_is_ignored(fake_llm: FakeLLMServer):
    fake_llm.enqueue(*[Reply([f"sample {i}"], ignore_n=True, delay_s=0.5) for i in range(4)])
    responses = client_for(fake_llm).propose(messages=MESSAGES, n=4, iteration=0, seed=10)
    texts = [r.text for r in responses]
    # The fills race each other to the server, so which fill got which answer varies.
    assert texts[0] == "sample 0" and sorted(texts[1:]) == ["sample 1", "sample 2", "sample 3"]
    first, *fills = fake_llm.chat_requests
    assert first["n"] == 4
    seeds = sorted(sample_seed(10, iteration=0, sample=k) for k in (1, 2, 3))
    assert [r["n"] for r in fills] == [1, 1, 1] and sorted(r["seed"] for r in fills) == seeds
    assert fake_llm.max_in_flight >= 2  # the fills overlapped: they were sent concurrently


def test_server_refusing_n_gets_one_request_per_sample(fake_llm: FakeLLMServer):
    fake_llm.default = Reply([ANSWER], refuse_n=True)
    responses = client_for(fake_llm).propose(messages=MESSAGES, n=3, iteration=0, seed=0)
    assert [r.text for r in responses] == [ANSWER] * 3
    assert [r["n"] for r in fake_llm.chat_requests] == [3, 1, 1, 1]


def test_rate_limit_is_retried_after_the_retry_after_delay(fake_llm: FakeLLMServer):
    fake_llm.enqueue(rate_limited(retry_after_s=1), Reply([ANSWER]))
    [response] = client_for(fake_llm).propose(messages=MESSAGES, n=1, iteration=0, seed=0)
    assert response.text == ANSWER
    first, second = (r.received_at for r in fake_llm.requests)
    assert second - first >= 0.9


def test_server_error_is_retried_with_backoff(fake_llm: FakeLLMServer):
    fake_llm.enqueue(server_error(), Reply([ANSWER]))
    [response] = client_for(fake_llm).propose(messages=MESSAGES, n=1, iteration=0, seed=0)
    assert response.text == ANSWER
    first, second = (r.received_at for r in fake_llm.requests)
    assert second - first >= 0.3  # the SDK's first backoff: 0.5 s minus up to 25 % jitter


def test_server_errors_beyond_the_retries_become_error_responses(fake_llm: FakeLLMServer):
    fake_llm.default = server_error()
    client = client_for(fake_llm, max_retries=1)
    responses = client.propose(messages=MESSAGES, n=2, iteration=0, seed=0)
    assert len(responses) == 2
    assert all(r.text is None and "HTTP 500 after 1 retries" in (r.error or "") for r in responses)
    assert len(fake_llm.chat_requests) == 2


def test_timeout_becomes_an_error_response(fake_llm: FakeLLMServer):
    fake_llm.enqueue(Sleep(10), Sleep(10))
    client = client_for(fake_llm, timeout_s=0.5, max_retries=1)
    started = time.monotonic()
    [response] = client.propose(messages=MESSAGES, n=1, iteration=0, seed=0)
    error = response.error or ""
    assert response.text is None and "timed out (0.5 s without data) after 1 retries" in error
    assert len(fake_llm.chat_requests) == 2 and time.monotonic() - started < 5


@pytest.mark.parametrize("content_type", ["application/json", "text/html"])
def test_garbage_body_becomes_an_error_response(fake_llm: FakeLLMServer, content_type: str):
    fake_llm.enqueue(Garbage(content_type=content_type))
    [response] = client_for(fake_llm).propose(messages=MESSAGES, n=1, iteration=0, seed=0)
    assert response.text is None and "malformed" in (response.error or "")


def test_empty_message_becomes_an_error_with_the_finish_reason(fake_llm: FakeLLMServer):
    fake_llm.enqueue(Reply([""], finish_reason="length"))
    [response] = client_for(fake_llm).propose(messages=MESSAGES, n=1, iteration=0, seed=0)
    assert response.error and "empty" in response.error and "length" in response.error


def test_rejected_api_key_says_which_setting_to_change(fake_llm: FakeLLMServer):
    fake_llm.enqueue(Status(401, "Incorrect API key provided"))
    [response] = client_for(fake_llm).propose(messages=MESSAGES, n=1, iteration=0, seed=0)
    assert "Incorrect API key" in (response.error or "")
    assert "REWARDFORGE_LLM_API_KEY" in (response.error or "")


def test_unreachable_server_becomes_an_error_response():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = LLMClient(model="m", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0)
    [response] = client.propose(messages=MESSAGES, n=1, iteration=0, seed=0)
    assert "cannot reach the LLM server" in (response.error or "")


def test_identical_request_is_answered_from_the_store_without_a_network_call(
    fake_llm: FakeLLMServer,
):
    fake_llm.enqueue(Reply([ANSWER, prose_only_response()]))
    store = InMemoryCallStore()
    first = client_for(fake_llm, store=store).propose(messages=MESSAGES, n=2, iteration=3, seed=1)
    again = client_for(fake_llm, store=store).propose(messages=MESSAGES, n=2, iteration=3, seed=1)
    assert [r.text for r in again] == [r.text for r in first]
    assert all(r.cached for r in again) and not any(r.cached for r in first)
    assert len(fake_llm.chat_requests) == 1
    live, cached = store.calls
    assert cached.cached and cached.cost_usd == 0 and cached.request_hash == live.request_hash


def test_another_endpoint_serving_the_same_model_name_is_asked_anew(fake_llm: FakeLLMServer):
    fake_llm.default = Reply([ANSWER])
    store = InMemoryCallStore()
    with FakeLLMServer() as other:
        other.default = Reply([prose_only_response()])
        first = client_for(fake_llm, store=store).propose(
            messages=MESSAGES, n=1, iteration=0, seed=0
        )
        second = client_for(other, store=store).propose(messages=MESSAGES, n=1, iteration=0, seed=0)
    assert first[0].text == ANSWER and second[0].text == prose_only_response()
    assert not second[0].cached and len(other.chat_requests) == 1


def test_a_different_seed_is_a_new_request(fake_llm: FakeLLMServer):
    fake_llm.default = Reply([ANSWER])
    client = client_for(fake_llm)
    client.propose(messages=MESSAGES, n=1, iteration=0, seed=1)
    client.propose(messages=MESSAGES, n=1, iteration=0, seed=2)
    assert len(fake_llm.chat_requests) == 2


def test_every_call_is_recorded_with_tokens_and_cost_but_never_the_key(fake_llm: FakeLLMServer):
    fake_llm.enqueue(server_error(), Reply([ANSWER]))
    store = InMemoryCallStore()
    client = client_for(fake_llm, store=store, price_in_per_mtok=2.0, price_out_per_mtok=8.0)
    client.propose(messages=MESSAGES, n=1, iteration=4, seed=0)
    [call] = store.calls
    assert call.responses == [ANSWER] and call.error is None and call.iteration == 4
    assert call.prompt_tokens > 0 and call.completion_tokens == len(ANSWER.split())
    expected = (call.prompt_tokens * 2.0 + call.completion_tokens * 8.0) / 1e6
    assert call.cost_usd == pytest.approx(expected)
    assert call.latency_s > 0 and call.model == "fake-model"
    assert call.request["messages"] == MESSAGES and call.request["n"] == 1
    assert "sk-secret" not in repr(call)
    assert fake_llm.requests[-1].headers["authorization"] == "Bearer sk-secret"


def test_failed_calls_are_recorded_and_not_replayed(fake_llm: FakeLLMServer):
    fake_llm.enqueue(Garbage(), Reply([ANSWER]))
    store = InMemoryCallStore()
    client = client_for(fake_llm, store=store)
    [failed] = client.propose(messages=MESSAGES, n=1, iteration=0, seed=0)
    [retried] = client.propose(messages=MESSAGES, n=1, iteration=0, seed=0)
    assert failed.error and retried.text == ANSWER and not retried.cached
    assert [c.error is None for c in store.calls] == [False, True]


def test_models_endpoint_lists_the_fake_model(fake_llm: FakeLLMServer):
    models = openai.OpenAI(base_url=fake_llm.base_url, api_key="x").models.list()
    assert [m.id for m in models.data] == ["fake-model"]


def test_reflection_prompt_reaches_the_server_with_the_parent_and_its_statistics(
    fake_llm: FakeLLMServer,
):
    card = get_card("MountainCarContinuous-v0")
    metric = card.default_metric
    fake_llm.default = Reply([good_reward_response(card)])
    client = client_for(fake_llm)
    first = build_messages(card=card, metric=metric, task="reach the flag", reflection=None)
    [answer] = client.propose(messages=first, n=1, iteration=0, seed=0)
    parent = extract_code(answer.text or "")
    stats = {"checkpoints": [{"components": {"progress": {"mean": 0.25}}}], "correlation": 0.8}
    reflection = Reflection(parent_code=parent, parent_fitness=0.1, parent_stats=stats)
    second = build_messages(card=card, metric=metric, task="reach the flag", reflection=reflection)
    client.propose(messages=second, n=1, iteration=1, seed=0)
    sent = fake_llm.chat_requests[-1]["messages"]
    assert sent[2] == {"role": "assistant", "content": f"```python\n{parent.strip()}\n```"}
    assert "progress: ['0.25'], Max: 0.25" in sent[3]["content"]
