"""Where LLM calls are kept: every request, its answers, tokens, latency, cost and tries.

Stored answers belong to a run, an iteration and a sample. The client asks the
store before the network, so a request made again for the same iteration and
sample (same model, messages, n, temperature, seed and endpoint) is answered
from the earlier call and a resumed run costs nothing; another iteration or
another run is always asked anew. The service implements ``CallStore`` on its
database (one store per run); ``InMemoryCallStore`` serves tests and one-off use.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class LLMCallRecord:
    """One chat completion request and what came of it.

    ``request`` holds model, messages, n, temperature and seed, never the API key.
    ``responses`` holds one text per returned choice ("" for an empty one).
    ``cached`` marks a call answered from the store (no tokens, no cost).
    ``sample`` is the index of the first sample the call answers (it asked for
    ``n`` from there). ``attempts`` lists every try, with its latency and, for a
    try that failed, its cause (see ``app.llm.transport.Attempt``).
    """

    request_hash: str
    model: str
    request: dict[str, Any]
    responses: list[str] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    cost_usd: float = 0.0
    cached: bool = False
    error: str | None = None
    iteration: int | None = None
    sample: int = 0
    attempts: list[dict[str, Any]] = field(default_factory=list)


class CallStore(Protocol):
    """Durable memory of LLM calls. Called from one thread only."""

    def lookup(self, request_hash: str, *, iteration: int, sample: int) -> list[str] | None:
        """The responses of an earlier successful call with this hash made for the
        same iteration and first sample (of this store's run), or None."""
        ...

    def record(self, call: LLMCallRecord) -> object:
        """Keep ``call`` (successful, failed or answered from the store); the
        client ignores what it returns (a row id, say)."""
        ...


class InMemoryCallStore:
    """A CallStore in a list, for tests and runs that need no database."""

    def __init__(self) -> None:
        self.calls: list[LLMCallRecord] = []

    def lookup(self, request_hash: str, *, iteration: int, sample: int) -> list[str] | None:
        """The first successful responses recorded for this request, iteration and sample."""
        for call in self.calls:
            key = (call.request_hash, call.iteration, call.sample)
            if key == (request_hash, iteration, sample) and call.error is None and call.responses:
                return list(call.responses)
        return None

    def record(self, call: LLMCallRecord) -> None:
        """Append ``call``."""
        self.calls.append(call)


def request_hash(request: Mapping[str, Any], endpoint: str | None = None) -> str:
    """sha256 of a request's model, messages, n, temperature and seed, and of the
    endpoint it went to: two servers may serve different models under one name.

    The provider's default endpoint (``None``) adds nothing, so its hashes match
    those stored before endpoints were part of the key. The iteration and sample
    are not hashed: the store matches them itself.
    """
    keys = ("model", "messages", "n", "temperature", "seed")
    key = {k: request.get(k) for k in keys}
    if endpoint:
        key["endpoint"] = endpoint.rstrip("/")
    canonical = json.dumps(key, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
