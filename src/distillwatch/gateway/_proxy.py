"""The hot path: one pure-ASGI handler per proxied call.

Per call, in order: identify the key, read and check the body, decide the action (overrides,
then the ladder over the scorer's ``risk_of``), refuse / throttle / degrade, forward to the
upstream over the shared aiohttp session, pass the answer back (streams chunk by chunk,
untouched unless a degrade step must rewrite them), then log the call and queue it for
scoring. Logging and scoring happen after the client has its last byte.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import logging
import time
from typing import TYPE_CHECKING, Any, Final

import aiohttp
import orjson

from distillwatch.gateway._config import StepPolicy
from distillwatch.gateway._degrade import (
    Refusal,
    degrade_request,
    degrade_response,
    degrade_stream_event,
    safe_canary,
)
from distillwatch.gateway._keys import Identity, key_id_for
from distillwatch.gateway._policy import Decision, decide, utc_now
from distillwatch.gateway._record import Call, new_request_id
from distillwatch.gateway._sse import SSEParser, StreamAssembler, encode_event

if TYPE_CHECKING:
    from distillwatch.gateway._app import GatewayState

__all__ = ["PROXY_PATHS", "UpstreamBroken", "handle_proxy"]

_log = logging.getLogger("distillwatch.gateway")

PROXY_PATHS: Final = frozenset({"/v1/chat/completions", "/v1/completions", "/v1/responses",
                                "/v1/embeddings", "/v1/models"})
_HOP_BY_HOP: Final = frozenset({
    b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"te",
    b"trailer", b"trailers", b"transfer-encoding", b"upgrade", b"host", b"content-length",
    b"accept-encoding",
})
_DROP_FROM_UPSTREAM: Final = frozenset({
    "connection", "keep-alive", "transfer-encoding", "content-length", "upgrade", "trailer",
    "proxy-authenticate",
})
_ERROR_TYPES: Final = {400: "invalid_request_error", 401: "authentication_error",
                       403: "permission_error", 404: "not_found_error",
                       405: "invalid_request_error", 413: "invalid_request_error",
                       415: "invalid_request_error", 429: "rate_limit_error"}
_ERROR_BODY_LIMIT = 4096
_WATCH_AFTER = 0.02


class UpstreamBroken(Exception):
    """The upstream stream broke after the answer started: abort the client's connection too.

    Raising it from the ASGI app makes the server drop the connection without the final
    chunk, so the client sees a broken transfer, as it would have from the upstream itself.
    """


def _error_body(status: int, code: str, message: str) -> bytes:
    return orjson.dumps({"error": {"message": message,
                                   "type": _ERROR_TYPES.get(status, "upstream_error"),
                                   "code": code}})


async def _send(send: Any, call: Call, status: int, body: bytes,
                headers: list[tuple[bytes, bytes]]) -> None:
    call.responded = True
    await send({"type": "http.response.start", "status": status,
                "headers": [*headers, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _header(scope: dict[str, Any], name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def _identify(state: GatewayState, scope: dict[str, Any]) -> tuple[Identity | None, str]:
    """The caller's identity, or None with the 401 reason."""
    raw = _header(scope, b"authorization")
    if raw is None:
        return None, "missing"
    text = raw.decode("latin-1").strip()
    scheme, _, key = text.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        return None, "malformed"
    digest, identity = state.keys.identify(key)
    if identity is not None:
        return identity, "ok"
    short = key_id_for(digest)
    return Identity(f"unknown:{short}", short, known=False), "unknown"


async def _read_body(receive: Any, limit: int) -> bytes | None:
    """The whole request body, or None when it exceeds ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionResetError("client disconnected while sending the body")
        body = message.get("body", b"")
        size += len(body)
        if size > limit:
            return None
        chunks.append(body)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def handle_proxy(state: GatewayState, scope: dict[str, Any], receive: Any,
                       send: Any) -> None:
    """Serve one proxied call end to end."""
    now = time.time()
    client = scope.get("client")
    ua = _header(scope, b"user-agent")
    call = Call(started=time.perf_counter(), ts=utc_now(now), request_id=new_request_id(),
                endpoint=scope["path"], identity=Identity("anonymous", "none", known=False),
                client_ip=client[0] if client else None,
                user_agent=ua.decode("latin-1") if ua else None)
    base_headers = [(b"x-distillwatch-request-id", call.request_id.encode())]
    try:
        refusal = await _admit(state, scope, receive, call, now)
        if refusal is not None:
            state.metrics.refusals[refusal.code] += 1
            call.status = refusal.status
            call.error = {"code": refusal.code, "message": refusal.message}
            extra = [(k.encode(), v.encode()) for k, v in refusal.headers]
            await _send(send, call, refusal.status,
                        _error_body(refusal.status, refusal.code, refusal.message),
                        [(b"content-type", b"application/json"), *base_headers, *extra])
        else:
            await _forward(state, scope, receive, send, call, base_headers)
    except ConnectionResetError:  # the client left while sending its body
        state.metrics.client_disconnects += 1
        call.status = 499
        call.error = {"code": "client_disconnected", "message": "client left mid-request"}
    except UpstreamBroken:
        raise
    except Exception as exc:  # a bug of ours must cost one call, never its log record
        _log.exception("gateway failed on %s", call.request_id)
        state.metrics.refusals["internal_error"] += 1
        call.error = {"code": "internal_error", "message": f"{type(exc).__name__}: {exc}"}
        if not call.responded:
            call.status = 500
            await _send(send, call, 500, _error_body(500, "internal_error",
                                                     "The gateway failed on this call."),
                        [(b"content-type", b"application/json"), *base_headers])
        else:
            call.status = call.status or 500
            await _finish(state, call)
            raise UpstreamBroken("gateway error mid-answer") from exc
    await _finish(state, call)


async def _admit(state: GatewayState, scope: dict[str, Any], receive: Any, call: Call,
                 now: float) -> Refusal | None:
    """Identify, read and check the call, and apply the policy; a Refusal ends the call."""
    config = state.config
    identity, why = _identify(state, scope)
    if identity is not None:
        call.identity = identity
    if identity is None or (not identity.known and config.unknown_keys == "reject"):
        message = {"missing": "Missing API key: send 'Authorization: Bearer KEY'.",
                   "malformed": "Malformed Authorization header: expected 'Bearer KEY'.",
                   "unknown": "Incorrect API key provided."}[why]
        return Refusal(401, "invalid_api_key", message)
    method = scope["method"]
    if call.endpoint == "/v1/models":
        if method != "GET":
            return Refusal(405, "method_not_allowed", f"{method} is not allowed here; use GET.")
    else:
        if method != "POST":
            return Refusal(405, "method_not_allowed", f"{method} is not allowed here; use POST.")
        problem = await _read_request(state, scope, receive, call)
        if problem is not None:
            return problem
    if call.identity.known:
        call.decision = decide(call.identity.account_id, scorer=state.scorer,
                               ladder=config.ladder, overrides=state.overrides, now=now)
    else:
        call.decision = Decision("observe", "unknown-key", None, ("unknown key, observe-only",))
    state.note_action(call.identity.account_id, call.decision, call.request_id)
    action = call.decision.action
    if action == "block":
        return Refusal(config.block.status, "account_blocked", config.block.message)
    step = config.step(action)
    if step.requests is not None or step.tokens is not None:
        refusal = await state.throttle.check(call.identity.account_id, step)
        if refusal is not None:
            return refusal
    if step.degrades and call.endpoint != "/v1/models":
        result = degrade_request(call.endpoint, call.request, step)
        if isinstance(result, Refusal):
            return result
        body, changes = result
        if changes:
            call.changes.extend(changes)
            call.forward = orjson.dumps(body)
    return None


async def _read_request(state: GatewayState, scope: dict[str, Any], receive: Any,
                        call: Call) -> Refusal | None:
    limit = state.config.max_body_bytes
    declared = _header(scope, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return Refusal(413, "request_too_large",
                       f"Request body is {int(declared):,} bytes; the limit is {limit:,}.")
    ctype = (_header(scope, b"content-type") or b"").split(b";", 1)[0].strip().lower()
    if ctype != b"application/json":
        shown = ctype.decode("latin-1") or "none"
        return Refusal(415, "unsupported_media_type",
                       f"Content-Type must be application/json, got {shown}.")
    raw = await _read_body(receive, limit)
    if raw is None:
        return Refusal(413, "request_too_large", f"Request body exceeds {limit:,} bytes.")
    call.body_bytes = len(raw)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return Refusal(400, "invalid_json", f"Request body is not valid JSON: {exc}.")
    if not isinstance(body, dict):
        return Refusal(400, "invalid_json", "Request body must be a JSON object.")
    call.request = body
    call.forward = raw
    return None


def _upstream_headers(state: GatewayState, scope: dict[str, Any]) -> dict[str, str]:
    headers: dict[str, str] = {}
    forward_auth = state.config.upstream.forward_authorization
    for key, value in scope["headers"]:
        if key in _HOP_BY_HOP or (key == b"authorization" and not forward_auth):
            continue
        headers[key.decode("latin-1")] = value.decode("latin-1")
    headers["accept-encoding"] = "identity"
    if state.upstream_key:
        headers["authorization"] = f"Bearer {state.upstream_key}"
    return headers


def _client_headers(upstream: aiohttp.ClientResponse,
                    base: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    out = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in upstream.headers.items()
           if k.lower() not in _DROP_FROM_UPSTREAM]
    out.extend(base)
    return out


class _DisconnectWatch:
    """Cancels the call's task when its client goes away (so the upstream call is dropped).

    It is armed only once a call has waited ``delay`` seconds: calls answered faster than
    that never pay for a watcher task, and a call that is still running is covered.
    """

    def __init__(self, receive: Any, target: asyncio.Task[Any] | None,
                 delay: float = _WATCH_AFTER) -> None:
        self.gone = False
        self._receive = receive
        self._target = target
        self._task: asyncio.Task[None] | None = None
        self._handle = asyncio.get_running_loop().call_later(delay, self._arm)

    def _arm(self) -> None:
        self._task = asyncio.ensure_future(self._watch())

    async def _watch(self) -> None:
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self.gone = True
                if self._target is not None:
                    self._target.cancel()
                return

    def cancel(self) -> None:
        """Stop watching (before the last byte is sent: completion also reads as a disconnect)."""
        self._handle.cancel()
        if self._task is not None:
            self._task.cancel()


async def _forward(state: GatewayState, scope: dict[str, Any], receive: Any, send: Any,
                   call: Call, base_headers: list[tuple[bytes, bytes]]) -> None:
    """Forward to the upstream and answer; a client disconnect cancels the upstream call."""
    url = state.upstream_base + scope["path"]
    if scope.get("query_string"):
        url += "?" + scope["query_string"].decode("latin-1")
    me = asyncio.current_task()
    watcher = _DisconnectWatch(receive, me)
    t_up = time.perf_counter()
    sent_start = False
    try:
        async with await _open_upstream(state, scope["method"], url, call.forward,
                                        _upstream_headers(state, scope)) as upstream:
            headers = _client_headers(upstream, base_headers)
            call.status = upstream.status
            ctype = upstream.headers.get("content-type", "")
            if ctype.startswith("text/event-stream"):
                await send({"type": "http.response.start", "status": upstream.status,
                            "headers": headers})
                sent_start = call.responded = True
                await _relay_stream(state, upstream, send, call, watcher)
            else:
                raw = await upstream.read()
                raw = _answer_body(state, call, upstream, raw)
                watcher.cancel()
                await send({"type": "http.response.start", "status": upstream.status,
                            "headers": [*headers,
                                        (b"content-length", str(len(raw)).encode())]})
                sent_start = call.responded = True
                await send({"type": "http.response.body", "body": raw})
        call.upstream_ms = (time.perf_counter() - t_up) * 1000.0
    except asyncio.CancelledError:
        if not watcher.gone:
            raise
        if me is not None:
            me.uncancel()
        state.metrics.client_disconnects += 1
        call.status = 499
        call.error = {"code": "client_disconnected",
                      "message": "client closed the connection; upstream call cancelled"}
    except UpstreamBroken:
        raise
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        watcher.cancel()
        kind = "timeout" if isinstance(exc, TimeoutError) else "connect"
        if isinstance(exc, (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError)):
            kind = "broken"
        state.metrics.upstream_errors[kind] += 1
        if sent_start:  # mid-stream: the client must see the break too
            if call.stream is not None:
                call.response = call.stream.result()
            call.error = {"code": f"upstream_{kind}", "message": str(exc) or kind}
            await _finish(state, call)
            raise UpstreamBroken(str(exc)) from exc
        status, code = (504, "upstream_timeout") if kind == "timeout" else \
            (502, "upstream_unreachable" if kind == "connect" else "upstream_broken")
        message = {"upstream_timeout": "The upstream did not answer in time.",
                   "upstream_unreachable": f"The upstream cannot be reached: {exc}",
                   "upstream_broken": f"The upstream closed the connection: {exc}"}[code]
        call.status = status
        call.error = {"code": code, "message": message}
        await _send(send, call, status, _error_body(status, code, message),
                    [(b"content-type", b"application/json"), *base_headers])
    finally:
        watcher.cancel()


async def _open_upstream(state: GatewayState, method: str, url: str, body: bytes | None,
                         headers: dict[str, str]) -> aiohttp.ClientResponse:
    """Send the request; retry once when the upstream closed a pooled connection unanswered.

    A keep-alive connection the upstream has just closed fails with ``ServerDisconnected``
    before any byte of an answer: the request never reached the model, so one retry on a
    fresh connection is safe and is what keeps such races invisible to clients.
    """
    try:
        return await state.session.request(method, url, data=body, headers=headers)
    except aiohttp.ServerDisconnectedError:
        state.metrics.upstream_errors["stale_connection_retried"] += 1
        return await state.session.request(method, url, data=body, headers=headers)


def _decode_json(raw: bytes, upstream: aiohttp.ClientResponse) -> Any:
    if upstream.headers.get("content-encoding", "").lower() == "gzip":
        with contextlib.suppress(OSError, EOFError):
            raw = gzip.decompress(raw)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def _answer_body(state: GatewayState, call: Call, upstream: aiohttp.ClientResponse,
                 raw: bytes) -> bytes:
    """Parse the upstream's answer for the log; rewrite it when a degrade step says so."""
    parsed = _decode_json(raw, upstream)
    if upstream.status >= 400:
        call.error = parsed if parsed is not None else \
            raw[:_ERROR_BODY_LIMIT].decode("utf-8", "replace")
        return raw
    if call.endpoint == "/v1/embeddings" and isinstance(parsed, dict):
        data = parsed.get("data")  # vectors are bulky and say nothing about harvesting
        call.response = {k: v for k, v in parsed.items() if k != "data"}
        call.response["data_count"] = len(data) if isinstance(data, list) else 0
        return raw
    call.response = parsed
    step = _step_of(state, call)
    if step is None or not isinstance(parsed, dict) or call.endpoint == "/v1/models":
        return raw
    out, changes = degrade_response(call.endpoint, parsed, step, canary=state.canary,
                                    account_id=call.identity.account_id,
                                    request_id=call.request_id)
    if not changes:
        return raw
    call.changes.extend(changes)
    call.response = out
    return orjson.dumps(out)


def _step_of(state: GatewayState, call: Call) -> StepPolicy | None:
    """The step's policy when it rewrites responses, else None (pass bytes through)."""
    if call.decision is None or call.decision.action == "block":
        return None
    step = state.config.step(call.decision.action)
    rewrites = (step.logprobs != "allow" or step.withhold_reasoning
                or (step.canary and state.canary is not None))
    return step if rewrites else None


async def _relay_stream(state: GatewayState, upstream: aiohttp.ClientResponse, send: Any,
                        call: Call, watcher: _DisconnectWatch) -> None:
    """Pass SSE bytes through as they come, assembling the final object for the log."""
    parser = SSEParser()
    assembler = call.stream = StreamAssembler()
    step = _step_of(state, call) if upstream.status < 400 else None
    changes: set[str] = set()
    canaried: set[int] = set()
    async for chunk in upstream.content.iter_any():
        events = parser.feed(chunk)
        if step is None:
            for _raw, data in events:
                if data is not None:
                    assembler.add(data)
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            continue
        out: list[bytes] = []
        for raw, data in events:
            obj = assembler.add(data) if data is not None else None
            if obj is None:
                if assembler.done:
                    out.extend(_canary_tail(state, call, assembler, step, canaried, None))
                out.append(raw)
                continue
            out.extend(_canary_tail(state, call, assembler, step, canaried, obj))
            new = degrade_stream_event(obj, step, changes)
            out.append(raw if new is obj else encode_event(new))
        if out:
            await send({"type": "http.response.body", "body": b"".join(out), "more_body": True})
    if parser.pending.strip():
        raise aiohttp.ClientPayloadError("upstream stream ended inside an event")
    watcher.cancel()
    await send({"type": "http.response.body", "body": b"", "more_body": False})
    result = assembler.result()
    if step is not None:
        call.changes.extend(sorted(changes))
        if canaried:
            call.changes.append("response.canary")
        result = _strip_assembled(result, step)
    call.response = result if upstream.status < 400 else None
    if upstream.status >= 400:
        call.error = result


def _canary_tail(state: GatewayState, call: Call, assembler: StreamAssembler,
                 step: StepPolicy, canaried: set[int], obj: dict[str, Any] | None) -> list[bytes]:
    """Before a choice's finishing chunk (or ``[DONE]``), send the canary's added text.

    Streamed text already sent cannot be rewritten, so on streams the canary transform can
    only append: when its result extends the streamed text, the extra is sent as one more
    delta; otherwise the stream is left as it was (and the log says so).
    """
    if not step.canary or state.canary is None:
        return []
    if obj is None:
        indexes = [i for i in assembler.choice_indexes() if i not in canaried]
    else:
        indexes = [c.get("index", 0) for c in obj.get("choices") or ()
                   if isinstance(c, dict) and c.get("finish_reason")
                   and c.get("index", 0) not in canaried]
    out: list[bytes] = []
    for index in indexes:
        canaried.add(index)
        text = assembler.text_of(index)
        marked = safe_canary(state.canary, call.identity.account_id, call.request_id, text)
        if marked == text:
            continue
        if not marked.startswith(text):
            call.changes.append("response.canary:skipped-not-an-append")
            continue
        extra = {**assembler.head(), "object": "chat.completion.chunk",
                 "choices": [{"index": index, "delta": {"content": marked[len(text):]},
                              "finish_reason": None}]}
        assembler.fold(extra)
        out.append(encode_event(extra))
    return out


def _strip_assembled(result: dict[str, Any], step: StepPolicy) -> dict[str, Any]:
    out, _ = degrade_response("/v1/chat/completions", result, step, canary=None,
                              account_id="", request_id="")
    return out


async def _finish(state: GatewayState, call: Call) -> None:
    """Log the call, charge its tokens, count it, queue it for scoring."""
    if call.finished:
        return
    call.finished = True
    record = call.record()
    action = call.decision.action if call.decision is not None else "none"
    state.metrics.observe_call(call.endpoint, call.status, action,
                               time.perf_counter() - call.started)
    await state.log_record(record)
    if call.decision is not None and call.identity.known:
        step = state.config.step(call.decision.action)
        if step.tokens is not None and isinstance(call.response, dict):
            usage = call.response.get("usage")
            if isinstance(usage, dict):
                tokens = sum(v for k in ("prompt_tokens", "completion_tokens",
                                         "input_tokens", "output_tokens")
                             if isinstance(v := usage.get(k), int))
                await state.throttle.record_tokens(call.identity.account_id, step, tokens)
