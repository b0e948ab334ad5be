"""A real HTTP server speaking the Chat Completions protocol, answering from a script.

Each ``POST /v1/chat/completions`` takes the next behaviour from the script
(the ``default`` one once it is empty): replies written the way models write,
slow answers, HTTP errors, or garbage. Every request is recorded, so a test can
read the prompt an iteration sent.

A request with ``"stream": true`` is answered as the OpenAI API does: server-sent
events, one ``chat.completion.chunk`` per word and choice, a last chunk with the
usage when ``stream_options.include_usage`` asks for it, then ``data: [DONE]``.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from envs.card import EnvCard, FitnessMetric


@dataclass(frozen=True)
class Reply:
    """Answer with choices cycling through ``texts``.

    ``ignore_n`` returns one choice whatever ``n`` asks (as Ollama does);
    ``refuse_n`` answers 400 to ``n > 1`` (as llama.cpp does); ``delay_s`` waits
    before answering.

    ``token_delay_s`` is the model's pace: each word takes that long to write,
    so a streamed answer sends a chunk every ``token_delay_s`` and a whole one
    arrives after all its words. ``stall_after`` stops a stream after that many
    chunks and holds the connection open without a byte more (a hung model).
    ``no_stream`` answers a streamed request with one JSON body (servers that
    cannot stream); ``refuse_stream`` answers it 400.
    """

    texts: Sequence[str]
    ignore_n: bool = False
    refuse_n: bool = False
    delay_s: float = 0.0
    finish_reason: str = "stop"
    token_delay_s: float = 0.0
    stall_after: int | None = None
    no_stream: bool = False
    refuse_stream: bool = False


@dataclass(frozen=True)
class Status:
    """Answer with an HTTP error status and an OpenAI-style error body."""

    code: int
    message: str = "error"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Sleep:
    """Hold the request for ``seconds`` (longer than the client waits), then reply."""

    seconds: float


@dataclass(frozen=True)
class Garbage:
    """Answer 200 with a body that is not JSON (whatever its content type says)."""

    body: str = "<html><body>upstream proxy error</body></html>"
    content_type: str = "application/json"


Behaviour = Reply | Status | Sleep | Garbage


def rate_limited(retry_after_s: float = 1.0) -> Status:
    return Status(429, "Rate limit reached", {"Retry-After": f"{retry_after_s:g}"})


def server_error() -> Status:
    return Status(500, "The server had an error while processing your request")


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None
    received_at: float


class FakeLLMServer:
    """The server on 127.0.0.1 (a free port) in a background thread."""

    def __init__(self, *, model: str = "fake-model", default: Behaviour | None = None) -> None:
        self.model = model
        self.default = default or Status(400, "the fake LLM's script is empty")
        self.requests: list[RecordedRequest] = []
        self.max_in_flight = 0  # the most chat requests it was answering at once
        self._in_flight = 0
        self._script: deque[Behaviour] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._httpd.fake = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        """The JSON bodies of the chat completion requests, in arrival order."""
        return [r.body for r in self.requests if r.path.endswith("/chat/completions") and r.body]

    def enqueue(self, *behaviours: Behaviour) -> None:
        with self._lock:
            self._script.extend(behaviours)

    def start(self) -> FakeLLMServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _next(self) -> Behaviour:
        with self._lock:
            return self._script.popleft() if self._script else self.default

    def _enter(self) -> None:
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)


class _Handler(BaseHTTPRequestHandler):
    server: Any
    protocol_version = "HTTP/1.1"

    @property
    def fake(self) -> FakeLLMServer:
        return self.server.fake

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep tests quiet
        pass

    def do_GET(self) -> None:
        self.fake._record(self._recorded(None))
        if self.path.rstrip("/").endswith("/models"):
            model = {"id": self.fake.model, "object": "model", "created": 0, "owned_by": "fake"}
            self._json(200, {"object": "list", "data": [model]})
        else:
            self._error(404, f"no route {self.path}")

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            self.fake._record(self._recorded(None))
            self._error(400, "the request body is not JSON")
            return
        self.fake._record(self._recorded(body))
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._error(404, f"no route {self.path}")
            return
        self.fake._enter()
        try:
            self._behave(self.fake._next(), body)
        finally:
            self.fake._leave()

    def _behave(self, behaviour: Behaviour, body: dict[str, Any]) -> None:
        if isinstance(behaviour, Status):
            self._error(behaviour.code, behaviour.message, behaviour.headers)
        elif isinstance(behaviour, Garbage):
            self._send(200, behaviour.body.encode(), {"Content-Type": behaviour.content_type})
        elif isinstance(behaviour, Sleep):
            if not self.fake._stopping.wait(behaviour.seconds):
                self._json(200, self._completion(Reply(["too late"]), body))
        elif behaviour.refuse_n and int(body.get("n") or 1) > 1:
            self._error(400, "Only one completion choice is allowed")
        elif body.get("stream") and behaviour.refuse_stream:
            self._error(400, "Streaming is not supported")
        else:
            if behaviour.delay_s:
                self.fake._stopping.wait(behaviour.delay_s)
            if body.get("stream") and not behaviour.no_stream:
                self._stream(behaviour, body)
                return
            completion = self._completion(behaviour, body)
            if self._generate(behaviour, completion):
                self._json(200, completion)

    def _generate(self, reply: Reply, completion: dict[str, Any]) -> bool:
        """Take as long as writing the longest choice takes; False if it never ends."""
        if reply.stall_after is not None:
            self.fake._stopping.wait()  # a hung model never finishes a whole answer
            return False
        words = max(len(_words(c["message"]["content"])) for c in completion["choices"])
        return not (reply.token_delay_s and self.fake._stopping.wait(reply.token_delay_s * words))

    def _stream(self, reply: Reply, body: dict[str, Any]) -> None:
        """The completion as server-sent events, a word per chunk, choices interleaved."""
        whole = self._completion(reply, body)
        texts = [_words(c["message"]["content"]) for c in whole["choices"]]
        base = {k: whole[k] for k in ("id", "created", "model")}
        base["object"] = "chat.completion.chunk"

        def chunk(choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
            return {**base, "choices": choices, **extra}

        def choice(index: int, delta: dict[str, str], finish: str | None = None) -> dict[str, Any]:
            return {"index": index, "delta": delta, "finish_reason": finish, "logprobs": None}

        events = [
            chunk([choice(i, {"role": "assistant", "content": ""})]) for i in range(len(texts))
        ]
        for step in range(max(len(words) for words in texts) + 1):
            for index, words in enumerate(texts):
                if step < len(words):
                    events.append(chunk([choice(index, {"content": words[step]})]))
                elif step == len(words):
                    events.append(chunk([choice(index, {}, reply.finish_reason)]))
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append(chunk([], usage=whole["usage"]))
        self._send_events(reply, events)

    def _send_events(self, reply: Reply, events: list[dict[str, Any]]) -> None:
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for sent, event in enumerate(events):
                if reply.stall_after is not None and sent >= reply.stall_after:
                    self.close_connection = True
                    self.fake._stopping.wait()  # hung: not a byte more, connection open
                    return
                if reply.token_delay_s and self.fake._stopping.wait(reply.token_delay_s):
                    return
                self._chunk(f"data: {json.dumps(event)}\n\n".encode())
            self._chunk(b"data: [DONE]\n\n")
            self._chunk(b"")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up on the stream

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _completion(self, reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
        n = 1 if reply.ignore_n else max(1, int(body.get("n") or 1))
        texts = [reply.texts[i % len(reply.texts)] for i in range(n)]
        prompt = " ".join(str(m.get("content", "")) for m in body.get("messages") or [])
        completion_tokens = sum(len(t.split()) for t in texts)
        return {
            "id": f"chatcmpl-fake-{len(self.fake.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model") or self.fake.model,
            "choices": [
                {
                    "index": i,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": reply.finish_reason,
                    "logprobs": None,
                }
                for i, text in enumerate(texts)
            ],
            "usage": {
                "prompt_tokens": len(prompt.split()),
                "completion_tokens": completion_tokens,
                "total_tokens": len(prompt.split()) + completion_tokens,
            },
        }

    def _recorded(self, body: dict[str, Any] | None) -> RecordedRequest:
        headers = {k.lower(): v for k, v in self.headers.items()}
        return RecordedRequest(self.command, self.path, headers, body, time.monotonic())

    def _error(self, code: int, message: str, headers: dict[str, str] | None = None) -> None:
        error = {"error": {"message": message, "type": "fake_error", "code": code}}
        self._json(code, error, headers)

    def _json(self, code: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        extra = {"Content-Type": "application/json", **(headers or {})}
        self._send(code, json.dumps(obj).encode(), extra)

    def _send(self, code: int, payload: bytes, headers: dict[str, str]) -> None:
        try:
            self.send_response(code)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test): nothing left to answer


def _words(text: str) -> list[str]:
    """``text`` in the pieces a model streams: each word with the space after it."""
    return re.findall(r"\s*\S+\s*", text) or ([text] if text else [])


def good_reward_response(card: EnvCard, metric: FitnessMetric | None = None) -> str:
    """A correct answer for ``card``, with prose and a helper, as a model writes it."""
    metric = metric or card.default_metric
    sign = "" if metric.higher_is_better else "-"
    first = card.state_vars[0].name
    return f"""The task metric is the main signal, so the reward pays for it directly and \
adds a small, bounded penalty on control effort.

```python
import numpy as np

EFFORT_TEMPERATURE = 1.0


def control_effort(action: np.ndarray, batch: int) -> np.ndarray:
    \"\"\"Squared magnitude of each environment's action.\"\"\"
    flat = np.reshape(np.asarray(action, dtype=np.float64), (batch, -1))
    return np.sum(np.square(flat), axis=1)


def compute_reward(state, action):
    batch = state["{first}"].shape[0]
    progress = {sign}np.broadcast_to(np.asarray({metric.expression}, dtype=np.float64), (batch,))
    effort_penalty = -0.05 * np.tanh(control_effort(action, batch) / EFFORT_TEMPERATURE)
    total = progress + effort_penalty
    return total, {{"progress": progress, "effort_penalty": effort_penalty}}
```

The temperature keeps the penalty below 0.05 per step whatever the action."""


def buggy_reward_response(card: EnvCard, kind: str = "name_error") -> str:
    """A plausible answer whose code fails: a misspelt name, or a (B, 1) total."""
    name = card.state_vars[0].name
    if kind == "name_error":
        body = f'    progress = state["{name}"] * speed_scale\n    total = progress'
    elif kind == "shape":
        body = f'    progress = state["{name}"]\n    total = progress[:, None]'
    else:
        raise ValueError(f"unknown bug kind {kind!r}")
    return (
        "Here is a simple reward that follows the main state variable.\n\n```python\n"
        "import numpy as np\n\n\ndef compute_reward(state, action):\n"
        f'{body}\n    return total, {{"progress": progress}}\n```\n'
    )


def prose_only_response() -> str:
    """An answer that talks about the reward but writes no code."""
    return (
        "To solve this task I would reward progress towards the goal, add a small penalty "
        "on large actions, and give a bonus when the goal is reached. The progress term "
        "should dominate so that the agent does not learn to stand still."
    )
