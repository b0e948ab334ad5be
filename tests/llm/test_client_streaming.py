"""A slow model is waited for while it writes, a stalled one is asked again, and
every retry is on the stored call with its cause."""

from __future__ import annotations

import time

from app.llm.call_store import InMemoryCallStore
from app.llm.client import LLMClient, LLMProgress
from tests.fake_llm import FakeLLMServer, Reply, Sleep, server_error

MESSAGES = [{"role": "user", "content": "Write a reward function for: run forward."}]
LONG = " ".join(f"word{i}" for i in range(30))


def client_for(server: FakeLLMServer, store: InMemoryCallStore, **options: object) -> LLMClient:
    settings = {"timeout_s": 0.5, "max_retries": 2, **options}
    return LLMClient(model="fake-model", base_url=server.base_url, store=store, **settings)


def test_slow_answer_that_keeps_streaming_is_accepted_without_a_resend(fake_llm: FakeLLMServer):
    fake_llm.enqueue(Reply([LONG, LONG.upper()], token_delay_s=0.03))
    store = InMemoryCallStore()
    started = time.monotonic()
    responses = client_for(fake_llm, store).propose(messages=MESSAGES, n=2, iteration=0, seed=0)
    assert time.monotonic() - started > 1.0  # twice the timeout, and still one answer
    assert [r.text for r in responses] == [LONG, LONG.upper()]
    [request] = fake_llm.chat_requests
    assert request["stream"] is True and request["n"] == 2
    [call] = store.calls
    assert call.error is None and call.latency_s > 1.0
    assert [a["cause"] for a in call.attempts] == [None]
    assert call.attempts[0]["streamed"] and call.attempts[0]["chunks"] == 60
    assert call.completion_tokens == 60  # the usage chunk at the end of the stream


def test_stalled_stream_is_retried_with_the_cause_recorded(fake_llm: FakeLLMServer):
    fake_llm.enqueue(Reply([LONG], stall_after=4), Reply([LONG]))
    store = InMemoryCallStore()
    [response] = client_for(fake_llm, store).propose(messages=MESSAGES, n=1, iteration=0, seed=0)
    assert response.text == LONG and len(fake_llm.chat_requests) == 2
    [call] = store.calls
    stalled, done = call.attempts
    assert "no data for 0.5 s" in stalled["cause"] and stalled["chunks"] == 3
    assert stalled["latency_s"] >= 0.5 and done["cause"] is None
    assert call.error is None and call.latency_s >= stalled["latency_s"] + done["latency_s"]


def test_stalled_request_for_several_samples_keeps_finished_ones_and_asks_for_the_rest(
    fake_llm: FakeLLMServer,
):
    # Three role chunks, the first word of each, then sample 0's end: then silence.
    fake_llm.enqueue(Reply(["short", LONG, LONG], stall_after=7))
    fake_llm.default = Reply(["fill"])
    store = InMemoryCallStore()
    responses = client_for(fake_llm, store).propose(messages=MESSAGES, n=3, iteration=0, seed=0)
    assert [r.text for r in responses] == ["short", "fill", "fill"]
    assert [r["n"] for r in fake_llm.chat_requests] == [3, 1, 1]  # never the whole request again
    first, *fills = store.calls
    assert first.responses == ["short"] and first.error is None
    assert "no data for 0.5 s" in first.attempts[0]["cause"] and len(first.attempts) == 1
    assert sorted(c.sample for c in fills) == [1, 2]


def test_request_that_never_answers_is_retried_up_to_the_limit_and_says_why(
    fake_llm: FakeLLMServer,
):
    fake_llm.enqueue(Sleep(10), Sleep(10), Sleep(10))
    store = InMemoryCallStore()
    [response] = client_for(fake_llm, store).propose(messages=MESSAGES, n=1, iteration=0, seed=0)
    assert response.error and "timed out" in response.error and "after 2 retries" in response.error
    [call] = store.calls
    assert len(call.attempts) == 3 and all("no response" in a["cause"] for a in call.attempts)


def test_server_errors_are_retried_and_every_attempt_is_recorded(fake_llm: FakeLLMServer):
    fake_llm.enqueue(server_error(), Reply(["ok"]))
    store = InMemoryCallStore()
    [response] = client_for(fake_llm, store).propose(messages=MESSAGES, n=1, iteration=0, seed=0)
    assert response.text == "ok"
    [call] = store.calls
    failed, done = call.attempts
    assert "HTTP 500" in failed["cause"] and failed["wait_s"] > 0 and done["cause"] is None


def test_server_that_answers_a_stream_request_whole_is_understood(fake_llm: FakeLLMServer):
    fake_llm.enqueue(Reply(["whole", "answers"], no_stream=True))
    store = InMemoryCallStore()
    responses = client_for(fake_llm, store).propose(messages=MESSAGES, n=2, iteration=0, seed=0)
    assert [r.text for r in responses] == ["whole", "answers"]
    assert not store.calls[0].attempts[0]["streamed"]


def test_server_refusing_streams_is_asked_without_them_from_then_on(fake_llm: FakeLLMServer):
    fake_llm.default = Reply(["plain"], refuse_stream=True)
    client = client_for(fake_llm, InMemoryCallStore())
    [first] = client.propose(messages=MESSAGES, n=1, iteration=0, seed=0)
    [second] = client.propose(messages=MESSAGES, n=1, iteration=1, seed=0)
    assert (first.text, second.text) == ("plain", "plain")
    assert [bool(r.get("stream")) for r in fake_llm.chat_requests] == [True, False, False]


def test_progress_reports_tokens_while_the_answer_streams(fake_llm: FakeLLMServer):
    fake_llm.enqueue(Reply([LONG, LONG], token_delay_s=0.03))
    seen: list[LLMProgress] = []
    client = client_for(fake_llm, InMemoryCallStore(), on_progress=seen.append)
    client.propose(messages=MESSAGES, n=2, iteration=3, seed=0)
    assert any(p.tokens > 0 and p.samples_done == 0 for p in seen)  # live, before any sample
    tokens = [p.tokens for p in seen]
    assert tokens == sorted(tokens) and seen[-1].tokens == 60
    assert (seen[-1].iteration, seen[-1].samples, seen[-1].samples_done) == (3, 2, 2)


def test_progress_names_the_cause_of_a_retry(fake_llm: FakeLLMServer):
    fake_llm.enqueue(Reply([LONG], stall_after=2), Reply(["ok"]))
    seen: list[LLMProgress] = []
    client = client_for(fake_llm, InMemoryCallStore(), on_progress=seen.append)
    client.propose(messages=MESSAGES, n=1, iteration=0, seed=0)
    assert seen[-1].retries == 1 and "no data" in (seen[-1].last_retry or "")
