"""A fast OpenAI-compatible mock upstream, for tests and the load benchmark.

Pure ASGI (no framework on its path). Its answers are deterministic, and faults are asked
for through the model name (so they pass through any proxy unchanged) or an ``x-mock``
header, as comma-separated ``key=value`` pairs after ``mock:``:

- ``status=503``: answer with that status and an OpenAI-style error body
- ``delay=2.5``: wait that many seconds before answering (timeouts)
- ``chunks=16``: words in the answer (one stream chunk each)
- ``slow=0.05``: wait between stream chunks
- ``break=3``: drop the connection after that many stream chunks
- ``reasoning=1``: add ``reasoning_content``

With the header ``x-mock-echo: 1`` a non-streamed answer carries the request body it got
under ``"echo"`` (to check what a proxy forwarded). ``created`` is a fixed timestamp so that
answers compare byte for byte.

Example: ``{"model": "mock:status=500"}``. ``GET /mock/stats`` counts calls and disconnects.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

import orjson

__all__ = ["MockUpstream", "parse_mock_options"]

_WORDS: Final = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
                 "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa")
_CREATED: Final = 1_700_000_000
_JSON: Final = [(b"content-type", b"application/json")]
_SSE: Final = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache"),
               (b"x-mock-upstream", b"1")]


class MockBreak(Exception):
    """Raised to drop the connection mid-stream (a broken upstream)."""


def parse_mock_options(model: Any, header: bytes | None = None) -> dict[str, float]:
    """Fault and size options from ``mock:key=value,...`` in the model name or header."""
    opts: dict[str, float] = {}
    sources = [model if isinstance(model, str) else "",
               header.decode("latin-1") if header else ""]
    for source in sources:
        _, _, tail = source.partition("mock:")
        for pair in tail.split(","):
            key, sep, value = pair.partition("=")
            if sep:
                try:
                    opts[key.strip()] = float(value)
                except ValueError:
                    continue
    return opts


def _words(n: int, seed: int) -> list[str]:
    return [_WORDS[(seed + i * 7) % len(_WORDS)] + ("" if i == n - 1 else " ")
            for i in range(n)]


def _logprobs(words: list[str], top: int) -> dict[str, Any]:
    return {"content": [
        {"token": w, "logprob": -0.1, "top_logprobs": [
            {"token": _WORDS[j % len(_WORDS)], "logprob": -0.1 - j} for j in range(top)]}
        for w in words]}


class MockUpstream:
    """The ASGI app."""

    def __init__(self) -> None:
        self.calls = 0
        self.disconnects = 0
        self.completed_streams = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == "/mock/stats":
            await self._json(send, 200, {"calls": self.calls, "disconnects": self.disconnects,
                                         "completed_streams": self.completed_streams})
            return
        self.calls += 1
        body: dict[str, Any] = {}
        if scope["method"] == "POST":
            raw = b""
            more = True
            while more:
                message = await receive()
                raw += message.get("body", b"")
                more = message.get("more_body", False)
            try:
                loaded = orjson.loads(raw) if raw else {}
                body = loaded if isinstance(loaded, dict) else {}
            except orjson.JSONDecodeError:
                await self._json(send, 400, {"error": {"message": "invalid JSON",
                                                       "type": "invalid_request_error"}})
                return
        header = next((v for k, v in scope["headers"] if k == b"x-mock"), None)
        opts = parse_mock_options(body.get("model"), header)
        if opts.get("delay"):
            await asyncio.sleep(opts["delay"])
        status = int(opts.get("status", 200))
        if status >= 400:
            await self._json(send, status, {"error": {
                "message": f"mock upstream failure {status}", "type": "server_error",
                "code": status}})
            return
        if path == "/v1/models":
            await self._json(send, 200, {"object": "list", "data": [
                {"id": "mock", "object": "model", "created": 0, "owned_by": "distillwatch"}]})
            return
        if path == "/v1/embeddings":
            inputs = body.get("input")
            count = len(inputs) if isinstance(inputs, list) else 1
            await self._json(send, 200, {"object": "list", "model": body.get("model"), "data": [
                {"object": "embedding", "index": i, "embedding": [0.01 * i] * 8}
                for i in range(count)], "usage": {"prompt_tokens": count, "total_tokens": count}})
            return
        if path not in ("/v1/chat/completions", "/v1/completions", "/v1/responses"):
            await self._json(send, 404, {"error": {"message": f"no route {path}",
                                                   "type": "not_found"}})
            return
        n_words = int(opts.get("chunks", 8))
        words = _words(n_words, len(orjson.dumps(body.get("messages") or body.get("prompt")
                                                 or body.get("input") or "")))
        if body.get("stream"):
            await self._stream(scope, receive, send, path, body, words, opts)
            return
        answer = self._complete(path, body, words, opts)
        if any(k == b"x-mock-echo" for k, _ in scope["headers"]):
            answer["echo"] = body
        await self._json(send, 200, answer)

    @staticmethod
    async def _json(send: Any, status: int, obj: Any) -> None:
        data = orjson.dumps(obj)
        await send({"type": "http.response.start", "status": status,
                    "headers": [*_JSON, (b"content-length", str(len(data)).encode())]})
        await send({"type": "http.response.body", "body": data})

    @staticmethod
    def _complete(path: str, body: dict[str, Any], words: list[str],
                  opts: dict[str, float]) -> dict[str, Any]:
        text = "".join(words)
        usage = {"prompt_tokens": 10, "completion_tokens": len(words),
                 "total_tokens": 10 + len(words)}
        created = _CREATED
        if path == "/v1/responses":
            return {"id": "resp_mock", "object": "response", "created_at": created,
                    "model": body.get("model"), "status": "completed",
                    "output": [{"type": "message", "role": "assistant", "content": [
                        {"type": "output_text", "text": text}]}],
                    "usage": {"input_tokens": 10, "output_tokens": len(words)}}
        n_field = body.get("n")
        n = n_field if isinstance(n_field, int) else 1
        choices = []
        for i in range(max(1, n)):
            if path == "/v1/completions":
                choice: dict[str, Any] = {"index": i, "text": text, "finish_reason": "stop"}
            else:
                message: dict[str, Any] = {"role": "assistant", "content": text}
                if opts.get("reasoning") or body.get("reasoning_effort"):
                    message["reasoning_content"] = "thinking about " + words[0]
                choice = {"index": i, "message": message, "finish_reason": "stop"}
            if body.get("logprobs"):
                choice["logprobs"] = _logprobs(words, int(body.get("top_logprobs") or 0))
            choices.append(choice)
        kind = "text_completion" if path == "/v1/completions" else "chat.completion"
        return {"id": "cmpl-mock", "object": kind, "created": created,
                "model": body.get("model"), "choices": choices, "usage": usage}

    async def _stream(self, scope: dict[str, Any], receive: Any, send: Any, path: str,
                      body: dict[str, Any], words: list[str], opts: dict[str, float]) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": _SSE})
        created = _CREATED
        model = body.get("model")
        slow = opts.get("slow", 0.0)
        breaks = int(opts["break"]) if "break" in opts else -1
        reasoning = bool(opts.get("reasoning") or body.get("reasoning_effort"))
        top = int(body.get("top_logprobs") or 0)
        disconnected = asyncio.Event()

        async def watch() -> None:
            message = await receive()
            if message["type"] == "http.disconnect":
                disconnected.set()

        watcher = asyncio.create_task(watch())
        try:
            for i, word in enumerate(words):
                if i == breaks:
                    raise MockBreak("mock upstream broke the stream on purpose")
                if slow:
                    await asyncio.sleep(slow)
                if disconnected.is_set():
                    self.disconnects += 1
                    return
                chunk = self._chunk(path, model, created, word, i, reasoning, top, body)
                await send({"type": "http.response.body", "more_body": True,
                            "body": b"data: " + orjson.dumps(chunk) + b"\n\n"})
            final = self._final_chunk(path, model, created, body, words)
            tail = b"data: " + orjson.dumps(final) + b"\n\ndata: [DONE]\n\n"
            await send({"type": "http.response.body", "body": tail, "more_body": False})
            self.completed_streams += 1
        finally:
            watcher.cancel()

    @staticmethod
    def _chunk(path: str, model: Any, created: int, word: str, i: int, reasoning: bool,
               top: int, body: dict[str, Any]) -> dict[str, Any]:
        if path == "/v1/responses":
            return {"type": "response.output_text.delta", "delta": word}
        if path == "/v1/completions":
            return {"id": "cmpl-mock", "object": "text_completion", "created": created,
                    "model": model, "choices": [{"index": 0, "text": word,
                                                 "finish_reason": None}]}
        delta: dict[str, Any] = {"content": word}
        if i == 0:
            delta["role"] = "assistant"
            if reasoning:
                delta["reasoning_content"] = "thinking"
        choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": None}
        if body.get("logprobs"):
            choice["logprobs"] = _logprobs([word], top)
        return {"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": created,
                "model": model, "choices": [choice]}

    @staticmethod
    def _final_chunk(path: str, model: Any, created: int, body: dict[str, Any],
                     words: list[str]) -> dict[str, Any]:
        if path == "/v1/responses":
            return {"type": "response.completed", "response": MockUpstream._complete(
                path, body, words, {})}
        usage = {"prompt_tokens": 10, "completion_tokens": len(words),
                 "total_tokens": 10 + len(words)}
        if path == "/v1/completions":
            return {"id": "cmpl-mock", "object": "text_completion", "created": created,
                    "model": model, "choices": [{"index": 0, "text": "",
                                                 "finish_reason": "stop"}], "usage": usage}
        return {"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": created,
                "model": model, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                "usage": usage}
