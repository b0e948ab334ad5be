"""Send one chat completion request until it is answered, and say why each try failed.

1. The answer is streamed, so the timeout bounds the silence between chunks, not
   the whole answer: a slow model that keeps writing is waited for, a stalled one
   is noticed after ``timeout_s`` without a byte. A server that answers a
   streamed request with one JSON body is understood; one that refuses streaming
   (HTTP 400, and answers without) is asked without it from then on.
2. A failed try is retried (at most ``max_retries`` times) when it may succeed
   next time: 408, 409, 429, 5xx, connection errors, timeouts. The wait is the
   SDK's: ``Retry-After`` when the server sends one (up to two minutes), else
   0.5 s doubling to at most 8 s, minus up to 25 % jitter. Retrying is done here
   rather than by the SDK so that every try is recorded with its cause.
3. A request for several samples is never sent whole again once it timed out or
   broke off mid-answer: the choices it finished are kept and ``split`` tells
   the caller to ask for the rest one sample per request. The same goes for a
   400 answer to ``n > 1`` (servers that refuse ``n``).
"""

from __future__ import annotations

import email.utils
import json
import random
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import openai
from openai.types.chat import ChatCompletion, ChatCompletionChunk

EMPTY_MESSAGE = "the model returned an empty message"
_MAX_DETAIL_CHARS = 300
_MAX_RETRY_AFTER_S = 120.0
_RETRIED_STATUS = {408, 409, 429}


class Watch(Protocol):
    """Told what arrives while a request is answered (from the sending thread)."""

    def received(self, *, tokens: int, samples: int) -> None:
        """``tokens`` more text chunks arrived and ``samples`` more choices ended."""
        ...

    def retrying(self, cause: str) -> None:
        """A try failed for ``cause`` and the request is about to be sent again."""
        ...


@dataclass
class Attempt:
    """One try of a request, as stored on the call (``asdict``)."""

    latency_s: float
    cause: str | None  # why this try did not answer; None for the one that did
    streamed: bool  # the answer came as a stream of chunks
    chunks: int = 0  # text chunks received (about one token each)
    wait_s: float = 0.0  # the wait before the next try


@dataclass
class Outcome:
    """What one request gave: per-choice texts ("" for an empty choice) or an error."""

    texts: list[str] = field(default_factory=list)
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    cached: bool = False
    split: bool = False  # ask the samples it lacks one per request, never it again
    attempts: list[dict[str, Any]] = field(default_factory=list)


class MalformedResponse(Exception):
    """The server's answer is not a chat completion."""


@dataclass
class _Reading:
    """What one try received so far, chunk by chunk or whole."""

    parts: dict[int, list[str]] = field(default_factory=dict)
    finished: dict[int, str] = field(default_factory=dict)  # choice index -> finish_reason
    chunks: int = 0
    started: bool = False  # the server began to answer (headers came)
    streamed: bool = False  # and answers as a stream of chunks
    usage: Any = None

    def take_chunk(self, chunk: ChatCompletionChunk, watch: Watch) -> None:
        texts = ended = 0
        for choice in chunk.choices or []:
            text = choice.delta.content if choice.delta else None
            self.parts.setdefault(choice.index, [])
            if text:
                self.parts[choice.index].append(text)
                texts += 1
            if choice.finish_reason and choice.index not in self.finished:
                self.finished[choice.index] = choice.finish_reason
                ended += 1
        self.chunks += texts
        self.usage = chunk.usage or self.usage
        if texts or ended:
            watch.received(tokens=texts, samples=ended)

    def take_completion(self, completion: ChatCompletion, watch: Watch) -> None:
        for index, choice in enumerate(completion.choices or []):
            content = getattr(choice.message, "content", None)
            self.parts[index] = [content] if isinstance(content, str) else []
            self.finished[index] = str(choice.finish_reason)
        self.usage = completion.usage
        tokens = getattr(completion.usage, "completion_tokens", None) or 0
        watch.received(tokens=tokens, samples=len(self.finished))

    def texts(self, *, finished_only: bool = False) -> list[str]:
        indices = sorted(self.finished if finished_only else self.parts)
        return ["".join(self.parts.get(i, [])) for i in indices]

    def outcome(self) -> Outcome:
        texts = self.texts()
        prompt = getattr(self.usage, "prompt_tokens", None) or 0
        completion = getattr(self.usage, "completion_tokens", None)
        outcome = Outcome(texts=texts, prompt_tokens=prompt, completion_tokens=completion or 0)
        if self.usage is None:
            outcome.completion_tokens = self.chunks  # no usage reported: about a token a chunk
        if not any(texts):
            reasons = sorted(set(self.finished.values()))
            outcome.error = f"{EMPTY_MESSAGE} (finish_reason: {', '.join(reasons) or 'no choices'})"
        return outcome


class ChatSender:
    """Sends requests to one endpoint; safe to use from several threads at once."""

    def __init__(
        self, *, model: str, base_url: str | None, api_key: str, timeout_s: float, max_retries: int
    ) -> None:
        self.model = model
        self.base_url = base_url
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.streams = True  # until the server refuses a stream and answers without
        # A float timeout bounds each read, i.e. the silence between chunks.
        self._client = openai.OpenAI(
            base_url=base_url, api_key=api_key, timeout=timeout_s, max_retries=0
        )

    def send(self, request: dict[str, Any], watch: Watch) -> Outcome:
        """The request's outcome after as many tries as it needs; never raises."""
        started = time.perf_counter()
        attempts: list[Attempt] = []
        retries = 0
        streamed = self.streams
        while True:
            reading = _Reading()
            try_started = time.perf_counter()
            try:
                self._try(request, streamed, reading, watch)
            except Exception as exc:  # every failure becomes a value the caller records
                latency = _since(try_started)
                cause = self._cause(exc, reading, latency)
                attempt = Attempt(latency, cause, reading.streamed, reading.chunks)
                attempts.append(attempt)
                outcome, wait = self._after_failure(exc, request, reading, streamed, retries)
                if outcome is not None:
                    break
                if wait is None:  # refused a stream: asked again at once without
                    attempt.cause = f"{cause}; asked again without streaming"
                    streamed = False
                    continue
                retries += 1
                attempt.wait_s = wait
                watch.retrying(cause)
                time.sleep(wait)
                continue
            attempts.append(Attempt(_since(try_started), None, reading.streamed, reading.chunks))
            self.streams = self.streams and streamed  # it answered only without streaming
            outcome = reading.outcome()
            break
        outcome.latency_s = _since(started)
        outcome.attempts = [asdict(a) for a in attempts]
        return outcome

    def _try(
        self, request: dict[str, Any], streamed: bool, reading: _Reading, watch: Watch
    ) -> None:
        if not streamed:
            completion = self._client.chat.completions.create(**request)
            reading.started = True
            if not isinstance(completion, ChatCompletion):  # the SDK hands back a non-JSON body
                raise MalformedResponse(f"not JSON: {_short(completion)}")
            reading.take_completion(completion, watch)
            return
        stream = self._client.chat.completions.create(
            **request, stream=True, stream_options={"include_usage": True}
        )
        reading.started = True
        if "text/event-stream" not in stream.response.headers.get("content-type", ""):
            reading.take_completion(_whole_body(stream.response), watch)
            return
        reading.streamed = True
        for chunk in stream:
            reading.take_chunk(chunk, watch)

    def _after_failure(
        self,
        exc: Exception,
        request: dict[str, Any],
        reading: _Reading,
        streamed: bool,
        retries: int,
    ) -> tuple[Outcome | None, float | None]:
        """The final outcome; or None and the wait before the next try (None: no wait,
        the next try asks without streaming)."""
        several = int(request.get("n") or 1) > 1
        if isinstance(exc, openai.BadRequestError):
            if several:  # n refused (or streaming): one sample per request may do
                return Outcome(error=self._describe(exc, retries), split=True), None
            if streamed:
                return None, None
        broke_off = isinstance(exc, openai.APITimeoutError) or (
            reading.started and isinstance(exc, openai.APIError)
        )
        if several and broke_off:
            kept = reading.texts(finished_only=True)
            error = None if any(kept) else self._describe(exc, retries)
            return Outcome(texts=kept, error=error, split=True), None
        wait = self._wait(exc, retries)
        if wait is None:
            return Outcome(error=self._describe(exc, retries)), None
        return None, wait

    def _wait(self, exc: Exception, retries: int) -> float | None:
        """Seconds to wait before trying again, or None when it is not worth it."""
        if retries >= self.max_retries:
            return None
        if isinstance(exc, openai.APIStatusError):
            if exc.status_code not in _RETRIED_STATUS and exc.status_code < 500:
                return None
            after = _retry_after(exc.response.headers)
            if after is not None and after > _MAX_RETRY_AFTER_S:
                return None
            if after is not None and after > 0:
                return after
        elif not isinstance(exc, openai.APIError):
            return None  # malformed answers do not get better
        return min(0.5 * 2.0**retries, 8.0) * (1 - 0.25 * random.random())

    def _cause(self, exc: Exception, reading: _Reading, latency_s: float) -> str:
        """A few words on why a try failed, for the call's list of attempts."""
        if isinstance(exc, openai.APITimeoutError):
            if not reading.started:
                return f"no response within {self.timeout_s:g} s"
            return (
                f"no data for {self.timeout_s:g} s after {reading.chunks} chunks "
                f"in {latency_s:.1f} s ({len(reading.finished)} samples finished)"
            )
        if isinstance(exc, openai.APIConnectionError):
            broke = f"connection lost after {reading.chunks} chunks" if reading.started else ""
            return broke or f"connection failed: {_detail(exc)}"
        if isinstance(exc, openai.APIStatusError):
            return f"HTTP {exc.status_code}: {_detail(exc)}"
        if isinstance(exc, openai.APIError):
            return f"error in the stream: {_detail(exc)}"
        return f"malformed response ({type(exc).__name__}): {_detail(exc)}"

    def _describe(self, exc: Exception, retries: int) -> str:
        """A message that tells the user what went wrong and what to change."""
        where = self.base_url or "the OpenAI API"
        tries = f"after {retries} retries" if retries else "(no retries)"
        detail = _detail(exc)
        if isinstance(exc, openai.APITimeoutError):
            return (
                f"the LLM request to {where} timed out ({self.timeout_s:g} s without data) "
                f"{tries}; a slow model needs a longer REWARDFORGE_LLM_TIMEOUT_S"
            )
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
        if isinstance(exc, openai.APIError):
            return f"the LLM server broke off its answer {tries}: {detail}"
        return f"the LLM server sent a malformed response ({type(exc).__name__}): {detail}"


def _whole_body(response: Any) -> ChatCompletion:
    """A streamed request answered in one body (servers that cannot stream)."""
    body = response.read()
    try:
        return ChatCompletion.model_validate(json.loads(body))
    except ValueError as exc:  # JSONDecodeError and pydantic's ValidationError
        raise MalformedResponse(f"not JSON: {_short(body.decode('utf-8', 'replace'))}") from exc
    finally:
        response.close()


def _retry_after(headers: Any) -> float | None:
    """Seconds the server asked to wait (``retry-after-ms``, ``retry-after``), if any."""
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return float(value) / divisor
        except ValueError:
            continue
    when = email.utils.parsedate_tz(headers.get("retry-after") or "")
    return float(email.utils.mktime_tz(when) - time.time()) if when else None


def _since(started: float) -> float:
    return time.perf_counter() - started


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
