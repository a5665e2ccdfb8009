"""A small OpenAI-compatible server for lab models (Starlette), and a loopback runner.

``POST /v1/completions`` and ``/v1/chat/completions`` with ``model``, ``prompt`` or
``messages``, ``max_tokens``, ``temperature``, ``n`` and ``seed``. A model served with
:class:`Marks` watermarks its generation with the calling account's key and passes each
response through the canary transform, as a provider's gateway would; the account is the
bearer token (lab only: there are no real API keys here).
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from distillwatch.forensics._keys import KeyRing
from distillwatch.forensics._watermark import GreenListLogitsProcessor, WatermarkScheme
from distillwatch.forensics.lab._ngram import LogitsHook

__all__ = ["LabServer", "Marks", "lab_app", "serve_lab"]

TextTransform = Callable[[str, str, str], str]


@dataclass
class Marks:
    """What the provider applies to a model's outputs for each calling account."""

    keyring: KeyRing
    scheme: WatermarkScheme | None = None
    transform: TextTransform | None = None


@runtime_checkable
class BatchModel(Protocol):
    """A lab model that samples ``n`` completions at once (the PyTorch lab's)."""

    def complete_many(self, prompt: str, n: int, max_tokens: int, *, temperature: float,
                      rng: np.random.Generator, processors: list[Any]) -> list[str]: ...


@dataclass
class LabServer:
    models: dict[str, Any]
    marks: dict[str, Marks]
    hooks: dict[str, list[LogitsHook]]


def _error(status: int, message: str) -> Response:
    return Response(orjson.dumps({"error": {"message": message, "type": "invalid_request"}}),
                    status_code=status, media_type="application/json")


def _generate(server: LabServer, name: str, account: str | None, prompt: str, body: dict[str, Any],
              request_id: str) -> list[str]:
    model = server.models[name]
    marks = server.marks.get(name)
    proc = None
    if marks and marks.scheme and account:
        proc = GreenListLogitsProcessor(marks.keyring.key(account, "watermark"), marks.scheme)
    seed = body.get("seed")
    rng = np.random.default_rng(seed if isinstance(seed, int) else None)
    n = int(body.get("n", 1))
    max_tokens = int(body.get("max_tokens", 16))
    temperature = float(body.get("temperature", 1.0))
    if isinstance(model, BatchModel):
        texts = model.complete_many(prompt, n, max_tokens, temperature=temperature, rng=rng,
                                    processors=[proc] if proc else [])
    else:
        hooks: list[LogitsHook] = list(server.hooks.get(name, []))
        if proc is not None:
            wm = proc
            hooks.append(lambda ids, logits: logits + wm.bias(ids, len(logits)))
        texts = [model.complete(prompt, max_tokens, temperature=temperature, rng=rng,
                                hooks=hooks) for _ in range(n)]
    if marks and marks.transform and account:
        texts = [marks.transform(account, f"{request_id}-{i}", t) for i, t in enumerate(texts)]
    return texts


def lab_app(models: dict[str, Any], marks: dict[str, Marks] | None = None,
            hooks: dict[str, list[LogitsHook]] | None = None) -> Starlette:
    """The ASGI app serving ``models`` by name."""
    server = LabServer(models, marks or {}, hooks or {})

    async def handle(request: Request) -> Response:
        chat = request.url.path.endswith("/chat/completions")
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return _error(400, "body is not JSON")
        name = body.get("model")
        if name not in server.models:
            return _error(404, f"model {name!r} not found")
        if chat:
            msgs = body.get("messages") or []
            prompt = str(msgs[-1].get("content", "")) if msgs else ""
        else:
            prompt = str(body.get("prompt", ""))
        auth = request.headers.get("authorization", "")
        account = auth.removeprefix("Bearer ").strip() or None
        request_id = f"lab-{uuid.uuid4().hex[:16]}"
        texts = await run_in_threadpool(_generate, server, name, account, prompt, body,
                                        request_id)
        if chat:
            choices = [{"index": i, "message": {"role": "assistant", "content": t},
                        "finish_reason": "length"} for i, t in enumerate(texts)]
        else:
            choices = [{"index": i, "text": t, "finish_reason": "length"}
                       for i, t in enumerate(texts)]
        return Response(orjson.dumps({
            "id": request_id, "object": "chat.completion" if chat else "text_completion",
            "created": int(time.time()), "model": name, "choices": choices,
        }), media_type="application/json")

    return Starlette(routes=[Route("/v1/completions", handle, methods=["POST"]),
                             Route("/v1/chat/completions", handle, methods=["POST"])])


@contextmanager
def serve_lab(app: Starlette) -> Iterator[str]:
    """Run ``app`` under uvicorn in a thread on a pre-bound 127.0.0.1 ephemeral port; yields
    the base URL (``http://127.0.0.1:PORT/v1``)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off",
                                           access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("lab server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
