"""Ask any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp) for K
samples, with retries, a store of earlier calls, and errors as values.

K samples are asked for in one request with ``n``. Servers that ignore ``n``
(Ollama) return fewer choices and servers that refuse it (llama.cpp) answer 400;
the missing samples are then asked for one by one, concurrently, each with its
own seed so that seeded servers still give different samples.

Retries are the SDK's (``max_retries``): it retries 408, 409, 429, 5xx,
timeouts and connection errors with exponential backoff (0.5 s doubling to at
most 8 s, minus up to 25 % jitter) and honours ``Retry-After`` up to two
minutes.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import openai
from openai.types.chat import ChatCompletion

from app.llm.call_store import CallStore, InMemoryCallStore, LLMCallRecord, request_hash
from app.llm.proposer import LLMResponse

_EMPTY = "the model returned an empty message"
_MAX_DETAIL_CHARS = 300


@dataclass
class _Outcome:
    """What one request gave: per-choice texts ("" for an empty choice) or an error."""

    texts: list[str] = field(default_factory=list)
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    cached: bool = False
    refused_n: bool = False  # a 400 answer to n > 1: ask one sample at a time instead


class LLMClient:
    """A Proposer backed by a chat model; see the module docstring."""

    def __init__(
        self,
        *,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 120.0,
        max_retries: int = 4,
        temperature: float = 1.0,
        price_in_per_mtok: float = 0.0,
        price_out_per_mtok: float = 0.0,
        store: CallStore | None = None,
        max_concurrency: int = 8,
    ) -> None:
        if not model:
            raise ValueError("no LLM model named: set REWARDFORGE_LLM_MODEL or run offline")
        self.model = model
        self.base_url = base_url
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.temperature = temperature
        self.price_in_per_mtok = price_in_per_mtok
        self.price_out_per_mtok = price_out_per_mtok
        self.store: CallStore = store if store is not None else InMemoryCallStore()
        self.max_concurrency = max(1, max_concurrency)
        # Local servers need no key, but the SDK insists on one; a real endpoint
        # answers a placeholder with 401, which becomes a clear error response.
        self._client = openai.OpenAI(
            base_url=base_url,
            api_key=api_key or "EMPTY",
            timeout=timeout_s,
            max_retries=max_retries,
        )

    def propose(
        self,
        *,
        messages: list[dict[str, str]],
        n: int,
        iteration: int,
        seed: int,
        parent_code: str | None = None,
    ) -> list[LLMResponse]:
        """``n`` samples for ``messages``; failures come back as error responses.

        ``parent_code`` is unused: the parent is part of the messages.
        """
        if n < 1:
            return []
        [first] = self._answer([self._request(messages, n, seed)], iteration)
        if first.error and not first.refused_n:
            return [LLMResponse(error=first.error)] * n
        samples = [_response(text, first.cached) for text in first.texts[:n]]
        if len(samples) < n:
            start = len(samples)
            fills = [self._request(messages, 1, seed + k) for k in range(start, n)]
            for outcome in self._answer(fills, iteration):
                if outcome.error:
                    samples.append(LLMResponse(error=outcome.error))
                else:
                    samples.append(_response(outcome.texts[0], outcome.cached))
        return samples

    def _request(self, messages: list[dict[str, str]], n: int, seed: int) -> dict[str, Any]:
        return {
            "model": self.model,
            "messages": messages,
            "n": n,
            "temperature": self.temperature,
            "seed": seed,
        }

    def _answer(self, requests: list[dict[str, Any]], iteration: int) -> list[_Outcome]:
        """Each request's outcome, from the store or the network (concurrently).

        Every call is recorded from this thread, so a store needs no locking.
        """
        outcomes: dict[int, _Outcome] = {}
        for index, request in enumerate(requests):
            stored = self.store.lookup(request_hash(request, self.base_url))
            if stored:
                outcomes[index] = _Outcome(texts=stored, cached=True)
                self._record(request, outcomes[index], iteration)
        to_send = [i for i in range(len(requests)) if i not in outcomes]
        for index, outcome in zip(
            to_send, self._send_all([requests[i] for i in to_send]), strict=True
        ):
            self._record(requests[index], outcome, iteration)
            outcomes[index] = outcome
        return [outcomes[i] for i in range(len(requests))]

    def _send_all(self, requests: list[dict[str, Any]]) -> list[_Outcome]:
        if len(requests) <= 1:
            return [self._send(request) for request in requests]
        with ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(requests))) as pool:
            return list(pool.map(self._send, requests))

    def _send(self, request: dict[str, Any]) -> _Outcome:
        """One chat completion over the network; never raises."""
        started = time.perf_counter()
        try:
            completion = self._client.chat.completions.create(**request)
            outcome = _parse(completion)
        except Exception as exc:  # every failure becomes a value the caller records
            outcome = _Outcome(error=self._describe(exc), refused_n=_refuses_n(exc, request))
        outcome.latency_s = time.perf_counter() - started
        return outcome

    def _record(self, request: dict[str, Any], outcome: _Outcome, iteration: int) -> None:
        cost = (
            outcome.prompt_tokens * self.price_in_per_mtok
            + outcome.completion_tokens * self.price_out_per_mtok
        ) / 1e6
        self.store.record(
            LLMCallRecord(
                request_hash=request_hash(request, self.base_url),
                model=self.model,
                request={k: v for k, v in request.items() if k != "model"},
                responses=list(outcome.texts),
                prompt_tokens=outcome.prompt_tokens,
                completion_tokens=outcome.completion_tokens,
                latency_s=outcome.latency_s,
                cost_usd=cost,
                cached=outcome.cached,
                error=outcome.error,
                iteration=iteration,
            )
        )

    def _describe(self, exc: Exception) -> str:
        """A message that tells the user what went wrong and what to change."""
        where = self.base_url or "the OpenAI API"
        tries = f"after {self.max_retries} retries" if self.max_retries else "(no retries)"
        detail = _detail(exc)
        if isinstance(exc, openai.APITimeoutError):
            return f"the LLM request to {where} timed out ({self.timeout_s:g} s) {tries}"
        if isinstance(exc, openai.APIConnectionError):
            return f"cannot reach the LLM server at {where} {tries}: {detail}"
        if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            return (
                f"the LLM server refused the API key ({exc.status_code}): {detail}; "
                "set REWARDFORGE_LLM_API_KEY"
            )
        if isinstance(exc, openai.NotFoundError):
            return f"model {self.model!r} or its endpoint was not found at {where}: {detail}"
        if isinstance(exc, openai.RateLimitError):
            return f"the LLM server kept rate-limiting (429) {tries}: {detail}"
        if isinstance(exc, openai.APIStatusError):
            retried = f" {tries}" if exc.status_code >= 500 else ""
            return f"the LLM server answered HTTP {exc.status_code}{retried}: {detail}"
        return f"the LLM server sent a malformed response ({type(exc).__name__}): {detail}"


def _parse(completion: Any) -> _Outcome:
    if not isinstance(completion, ChatCompletion):
        # The SDK hands back the raw body when it is not JSON.
        detail = _short(completion)
        return _Outcome(error=f"the LLM server sent a malformed response (not JSON): {detail}")
    choices = completion.choices or []
    texts = [_content(choice) for choice in choices]
    usage = completion.usage
    outcome = _Outcome(
        texts=texts,
        prompt_tokens=(usage.prompt_tokens or 0) if usage else 0,
        completion_tokens=(usage.completion_tokens or 0) if usage else 0,
    )
    if not any(texts):
        reasons = sorted({str(getattr(c, "finish_reason", None)) for c in choices})
        outcome.error = f"{_EMPTY} (finish_reason: {', '.join(reasons) or 'no choices'})"
    return outcome


def _content(choice: Any) -> str:
    message = getattr(choice, "message", None)
    content = getattr(message, "content", None)
    return content if isinstance(content, str) else ""


def _response(text: str, cached: bool) -> LLMResponse:
    if not text.strip():
        return LLMResponse(error=_EMPTY, cached=cached)
    return LLMResponse(text=text, cached=cached)


def _refuses_n(exc: Exception, request: dict[str, Any]) -> bool:
    return isinstance(exc, openai.BadRequestError) and request["n"] > 1


def _detail(exc: Exception) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    cause = exc.__cause__
    if isinstance(exc, openai.APIConnectionError) and cause is not None:
        message = f"{message} ({type(cause).__name__}: {cause})"
    return _short(message)


def _short(value: Any) -> str:
    text = " ".join(str(value).split())
    if len(text) > _MAX_DETAIL_CHARS:
        return text[:_MAX_DETAIL_CHARS] + "..."
    return text
