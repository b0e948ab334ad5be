"""Stored LLM answers belong to a run, an iteration and a sample: resuming an
iteration costs nothing, a later iteration is always asked anew."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.db.llm_calls import DbCallStore
from app.db.models import LLMCall
from app.llm.client import LLMClient, sample_seed
from tests.db.factories import new_run
from tests.fake_llm import FakeLLMServer, Reply

MESSAGES = [
    {"role": "system", "content": "You are a reward engineer."},
    {"role": "user", "content": "Write a reward function for: run forward."},
]


def _client(server: FakeLLMServer, store: DbCallStore) -> LLMClient:
    return LLMClient(model="fake-model", base_url=server.base_url, timeout_s=5, store=store)


def test_iterations_with_identical_prompts_each_ask_the_llm_and_a_resume_asks_nobody(
    fake_llm: FakeLLMServer, session_factory: sessionmaker[Session]
) -> None:
    fake_llm.enqueue(Reply(["first", "one"]), Reply(["second", "two"]), Reply(["third", "three"]))
    with session_factory.begin() as session:
        run_id = new_run(session).id
    client = _client(fake_llm, DbCallStore(session_factory, run_id=run_id))
    answers = [
        [r.text for r in client.propose(messages=MESSAGES, n=2, iteration=i, seed=7)]
        for i in range(3)
    ]
    assert answers == [["first", "one"], ["second", "two"], ["third", "three"]]
    seeds = [r["seed"] for r in fake_llm.chat_requests]
    assert len(fake_llm.chat_requests) == 3 and len(set(seeds)) == 3

    # A worker that died after iteration 1's call resumes it: the store answers.
    resumed = _client(fake_llm, DbCallStore(session_factory, run_id=run_id))
    again = resumed.propose(messages=MESSAGES, n=2, iteration=1, seed=7)
    assert [r.text for r in again] == ["second", "two"] and all(r.cached for r in again)
    assert len(fake_llm.chat_requests) == 3
    with session_factory() as session:
        rows = session.scalars(select(LLMCall).where(LLMCall.run_id == run_id)).all()
        keys = [(r.iteration_index, r.sample_index, r.cached) for r in rows]
    assert keys == [(0, 0, False), (1, 0, False), (2, 0, False), (1, 0, True)]


def test_another_run_with_the_same_seed_and_prompt_is_asked_anew(
    fake_llm: FakeLLMServer, session_factory: sessionmaker[Session]
) -> None:
    fake_llm.enqueue(Reply(["mine"]), Reply(["yours"]))
    with session_factory.begin() as session:
        first, second = new_run(session).id, new_run(session).id
    mine = _client(fake_llm, DbCallStore(session_factory, run_id=first))
    yours = _client(fake_llm, DbCallStore(session_factory, run_id=second))
    [a] = mine.propose(messages=MESSAGES, n=1, iteration=0, seed=0)
    [b] = yours.propose(messages=MESSAGES, n=1, iteration=0, seed=0)
    assert (a.text, b.text, b.cached) == ("mine", "yours", False)


def test_split_samples_are_stored_under_their_sample_index_and_resumed_one_by_one(
    fake_llm: FakeLLMServer, session_factory: sessionmaker[Session]
) -> None:
    fake_llm.enqueue(*[Reply([f"sample {i}"], ignore_n=True) for i in range(3)])
    with session_factory.begin() as session:
        run_id = new_run(session).id
    client = _client(fake_llm, DbCallStore(session_factory, run_id=run_id))
    texts = [r.text for r in client.propose(messages=MESSAGES, n=3, iteration=2, seed=5)]
    assert len(fake_llm.chat_requests) == 3
    first, *fills = fake_llm.chat_requests
    assert first["seed"] == sample_seed(5, iteration=2, sample=0)
    assert sorted(r["seed"] for r in fills) == sorted(
        sample_seed(5, iteration=2, sample=k) for k in (1, 2)
    )
    resumed = _client(fake_llm, DbCallStore(session_factory, run_id=run_id))
    again = resumed.propose(messages=MESSAGES, n=3, iteration=2, seed=5)
    assert [r.text for r in again] == texts and len(fake_llm.chat_requests) == 3
    with session_factory() as session:
        rows = session.scalars(select(LLMCall).where(LLMCall.cached.is_(False))).all()
        assert sorted((r.iteration_index, r.sample_index) for r in rows) == [(2, 0), (2, 1), (2, 2)]


def test_sample_seeds_differ_by_iteration_and_sample_and_repeat_for_the_same_ones() -> None:
    seeds = {sample_seed(3, iteration=i, sample=k) for i in range(20) for k in range(8)}
    assert len(seeds) == 160
    assert sample_seed(3, iteration=4, sample=1) == sample_seed(3, iteration=4, sample=1)
    assert sample_seed(3, iteration=0, sample=0) != sample_seed(4, iteration=0, sample=0)
    assert all(0 <= seed < 2**31 for seed in seeds)  # llama.cpp and Ollama take int32 seeds
