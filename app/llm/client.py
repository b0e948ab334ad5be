"""Ask any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp) for K
samples, with a store of earlier calls, live progress, and errors as values.

K samples are asked for in one request with ``n``. Servers that ignore ``n``
(Ollama) return fewer choices and servers that refuse it (llama.cpp) answer 400;
the missing samples are then asked for one by one, concurrently. So are the
samples a request for several did not finish before it stalled: it is never
sent whole again (see ``app.llm.transport`` for streaming, timeouts, retries).

Every request is keyed by its iteration and first sample. Its seed is derived
from the run's seed, the iteration and the sample (``sample_seed``), so each
iteration and each sample gets fresh answers, even when the prompt repeats, and
asking again for the same iteration (a resumed run) is answered from the store.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from app.llm.call_store import CallStore, InMemoryCallStore, LLMCallRecord, request_hash
from app.llm.proposer import LLMResponse
from app.llm.transport import EMPTY_MESSAGE, ChatSender, Outcome

_PROGRESS_EVERY_S = 0.25


@dataclass(frozen=True)
class LLMProgress:
    """Where one ``propose`` stands, for a progress line: sent while answers arrive."""

    iteration: int
    samples: int  # asked for
    samples_done: int  # answered in full so far
    tokens: int  # text chunks received so far, about one token each (all tries)
    elapsed_s: float
    retries: int  # tries sent again after a failure
    last_retry: str | None  # why the latest one was


@dataclass(frozen=True)
class _Ask:
    request: dict[str, Any]
    sample: int  # the first sample it answers


class LLMClient:
    """A Proposer backed by a chat model; see the module docstring.

    ``on_progress`` (optional) gets an ``LLMProgress`` at most every 0.25 s while
    answers stream, at every finished sample and retry, and once at the end. It
    is called from the client's sending threads, one call at a time: keep it short.
    """

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
        on_progress: Callable[[LLMProgress], None] | None = None,
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
        self.on_progress = on_progress
        # Local servers need no key, but the SDK insists on one; a real endpoint
        # answers a placeholder with 401, which becomes a clear error response.
        self._sender = ChatSender(
            model=model,
            base_url=base_url,
            api_key=api_key or "EMPTY",
            timeout_s=timeout_s,
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

        ``seed`` is the run's: each request's seed is derived from it. ``parent_code``
        is unused: the parent is part of the messages.
        """
        if n < 1:
            return []
        meter = _Meter(self.on_progress, iteration=iteration, samples=n)
        [first] = self._answer([self._ask(messages, n, seed, iteration, 0)], iteration, meter)
        if first.error and not first.split:
            meter.finish()
            return [LLMResponse(error=first.error)] * n
        samples = [_response(text, first.cached) for text in first.texts[:n]]
        fills = [self._ask(messages, 1, seed, iteration, k) for k in range(len(samples), n)]
        for outcome in self._answer(fills, iteration, meter):
            if outcome.error:
                samples.append(LLMResponse(error=outcome.error))
            else:
                samples.append(_response(outcome.texts[0], outcome.cached))
        meter.finish()
        return samples

    def _ask(
        self, messages: list[dict[str, str]], n: int, seed: int, iteration: int, sample: int
    ) -> _Ask:
        request = {
            "model": self.model,
            "messages": messages,
            "n": n,
            "temperature": self.temperature,
            "seed": sample_seed(seed, iteration=iteration, sample=sample),
        }
        return _Ask(request, sample)

    def _answer(self, asks: list[_Ask], iteration: int, meter: _Meter) -> list[Outcome]:
        """Each request's outcome, from the store or the network (concurrently).

        Every call is recorded from this thread, so a store needs no locking.
        """
        outcomes: dict[int, Outcome] = {}
        for index, ask in enumerate(asks):
            key = request_hash(ask.request, self.base_url)
            stored = self.store.lookup(key, iteration=iteration, sample=ask.sample)
            if stored:
                outcomes[index] = Outcome(texts=stored, cached=True)
                self._record(ask, outcomes[index], iteration)
                meter.received(tokens=0, samples=min(len(stored), ask.request["n"]))
        to_send = [i for i in range(len(asks)) if i not in outcomes]
        for index, outcome in zip(
            to_send, self._send_all([asks[i] for i in to_send], meter), strict=True
        ):
            self._record(asks[index], outcome, iteration)
            outcomes[index] = outcome
        return [outcomes[i] for i in range(len(asks))]

    def _send_all(self, asks: list[_Ask], meter: _Meter) -> list[Outcome]:
        if len(asks) <= 1:
            return [self._sender.send(ask.request, meter) for ask in asks]
        with ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(asks))) as pool:
            return list(pool.map(lambda ask: self._sender.send(ask.request, meter), asks))

    def _record(self, ask: _Ask, outcome: Outcome, iteration: int) -> None:
        cost = (
            outcome.prompt_tokens * self.price_in_per_mtok
            + outcome.completion_tokens * self.price_out_per_mtok
        ) / 1e6
        self.store.record(
            LLMCallRecord(
                request_hash=request_hash(ask.request, self.base_url),
                model=self.model,
                request={k: v for k, v in ask.request.items() if k != "model"},
                responses=list(outcome.texts),
                prompt_tokens=outcome.prompt_tokens,
                completion_tokens=outcome.completion_tokens,
                latency_s=outcome.latency_s,
                cost_usd=cost,
                cached=outcome.cached,
                error=outcome.error,
                iteration=iteration,
                sample=ask.sample,
                attempts=outcome.attempts,
            )
        )


def sample_seed(seed: int, *, iteration: int, sample: int) -> int:
    """The seed sent for ``sample`` of ``iteration`` in a run seeded ``seed``.

    A hash, not a sum: run 1's iteration 2 must not repeat run 2's iteration 1.
    It fits in a signed 32-bit integer, which llama.cpp and Ollama expect.
    """
    digest = hashlib.sha256(f"{seed}/{iteration}/{sample}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


class _Meter:
    """Adds up what the sending threads receive into ``LLMProgress`` snapshots."""

    def __init__(
        self, report: Callable[[LLMProgress], None] | None, *, iteration: int, samples: int
    ) -> None:
        self._report = report
        self._lock = threading.Lock()
        self._started = time.perf_counter()
        self._last = 0.0
        self._iteration, self._samples = iteration, samples
        self._samples_done = self._tokens = self._retries = 0
        self._last_retry: str | None = None

    def received(self, *, tokens: int, samples: int) -> None:
        with self._lock:
            self._tokens += tokens
            self._samples_done += samples
            self._emit(force=samples > 0)

    def retrying(self, cause: str) -> None:
        with self._lock:
            self._retries += 1
            self._last_retry = cause
            self._emit(force=True)

    def finish(self) -> None:
        with self._lock:
            self._emit(force=True)

    def _emit(self, *, force: bool) -> None:
        now = time.perf_counter()
        if self._report is None or (not force and now - self._last < _PROGRESS_EVERY_S):
            return
        self._last = now
        self._report(
            LLMProgress(
                iteration=self._iteration,
                samples=self._samples,
                samples_done=min(self._samples_done, self._samples),
                tokens=self._tokens,
                elapsed_s=now - self._started,
                retries=self._retries,
                last_retry=self._last_retry,
            )
        )


def _response(text: str, cached: bool) -> LLMResponse:
    if not text.strip():
        return LLMResponse(error=EMPTY_MESSAGE, cached=cached)
    return LLMResponse(text=text, cached=cached)
