"""Turning one call of a :class:`Batch` into a traffic-log v1 record (the hot path)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from distillwatch.sim._base import DAY_MS, MODELS, Account, Batch, Context
from distillwatch.sim._responses import chat_body, logprobs_block

__all__ = ["content", "emit", "model_for", "ts_string"]

_PREFIX: dict[tuple[int, int], str] = {}


def ts_string(ctx: Context, day: int, off: int) -> str:
    """RFC 3339 with ``Z`` and milliseconds for ``off`` ms into ``day`` of the window."""
    key = (ctx.start_ms, day)
    prefix = _PREFIX.get(key)
    if prefix is None:
        prefix = (ctx.start + timedelta(days=day)).strftime("%Y-%m-%dT")
        _PREFIX[key] = prefix
    return (f"{prefix}{off // 3_600_000:02d}:{off // 60_000 % 60:02d}:"
            f"{off // 1000 % 60:02d}.{off % 1000:03d}Z")


def model_for(a: Account, ctx: Context, day: int, off: int, bits: int, default: str) -> str:
    """The newly released model for the account's adopted share of calls, else ``default``."""
    when = ctx.start_ms + day * DAY_MS + off
    if when >= a.adopt_ms and (bits >> 5) % 1000 < a.adopt_share * 1000:
        return MODELS["new"]
    return default


def content(a: Account, text: str) -> Any:
    """A message content as the account's client sends it: a string or a list of text parts."""
    if a.p.get("parts"):
        return [{"type": "text", "text": text}]
    return text


def emit(
    a: Account, b: Batch, j: int, ctx: Context, request: dict[str, Any], *,
    prompt_chars: int, texts: list[str], endpoint: str = "/v1/chat/completions",
    user: str | None = None, reasoning_share: float = 0.0, reasoning_text: str | None = None,
    logprobs_k: int | None = None, tool_calls: list[dict[str, Any]] | None = None,
    max_tokens: int = 4096,
) -> dict[str, Any]:
    """Assemble the record: envelope, request, and a response consistent with the status."""
    c = b.cols
    off = c["ts"][j]
    bits = c["bits"][j]
    rid = f"req_{c['rid'][j]:016x}"
    status = c["status"][j]
    keys, ips, agents = a.keys, a.ips, a.agents
    rec: dict[str, Any] = {
        "ts": ts_string(ctx, b.day, off), "request_id": rid, "account_id": a.account_id,
        "key_id": keys[bits % len(keys)],
    }
    if user is not None:
        rec["user"] = user
    rec["client_ip"] = ips[(bits >> 7) % len(ips)]
    rec["user_agent"] = agents[(bits >> 13) % len(agents)]
    rec["endpoint"] = endpoint
    rec["status"] = status
    jitter = 0.75 + ((bits >> 17) % 512) / 1024
    if status != 200:
        rec["latency_ms"] = round((8 + (bits >> 9) % 60) if status == 429
                                  else 400 + 30_000 * jitter * (status >= 500), 1)
        rec["request"] = request
        rec["response"] = None
        return rec
    ptok = prompt_chars // 4 + 9
    per_choice = c["ctok"][j]
    finish = "length" if per_choice >= max_tokens else "stop"
    if tool_calls is not None:
        finish = "tool_calls"
    ctok = per_choice * len(texts)
    rtok = int(ctok * reasoning_share)
    model = request.get("model", MODELS["flagship"])
    speed = 9.0 if "mini" in model else 22.0 if reasoning_share else 14.0
    rec["latency_ms"] = round((180 + ptok * 0.04 + per_choice * speed * (1 + 0.1 * len(texts)))
                              * jitter, 1)
    rec["request"] = request
    created = (ctx.start_ms + b.day * DAY_MS + off) // 1000
    if endpoint == "/v1/completions":
        rec["response"] = {
            "id": "cmpl-" + rid[4:], "object": "text_completion", "created": created,
            "model": model,
            "choices": [{"index": i, "text": t, "finish_reason": finish, "logprobs": None}
                        for i, t in enumerate(texts)],
            "usage": {"prompt_tokens": ptok, "completion_tokens": ctok,
                      "total_tokens": ptok + ctok},
        }
    elif endpoint == "/v1/responses":
        rec["response"] = {
            "id": "resp_" + rid[4:], "object": "response", "created_at": created, "model": model,
            "status": "completed" if finish == "stop" else "incomplete",
            "output": [{"type": "message", "role": "assistant",
                        "content": [{"type": "output_text", "text": texts[0]}]}],
            "usage": {"input_tokens": ptok, "output_tokens": ctok, "total_tokens": ptok + ctok,
                      "output_tokens_details": {"reasoning_tokens": rtok}},
        }
    else:
        lp = (logprobs_block(min(per_choice, 64), logprobs_k, bits)
              if logprobs_k is not None else None)
        rec["response"] = chat_body(rid, model, created, texts, finish, ptok, ctok,
                                    reasoning_tokens=rtok, reasoning_text=reasoning_text,
                                    logprobs=lp, tool_calls=tool_calls)
    return rec
