"""Factories for hand-made traffic records (like mitmproxy's tflow)."""

from __future__ import annotations

import gzip
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any

import orjson

_ids = count(1)
T0 = datetime(2026, 9, 1, tzinfo=UTC)


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make_event(
    account_id: str = "acct_a",
    *,
    user_text: str = "What is the capital of France?",
    system: str | None = None,
    ts: datetime | None = None,
    minutes: float | None = None,
    response_text: str = "Paris is the capital of France.",
    prompt_tokens: int | None = 12,
    completion_tokens: int | None = 8,
    reasoning_tokens: int | None = None,
    status: int = 200,
    request_id: str | None = None,
    history: list[dict[str, Any]] | None = None,
    **request_params: Any,
) -> dict[str, Any]:
    """One valid traffic-log v1 record; keyword arguments go into the request body."""
    if ts is None:
        ts = T0 + timedelta(minutes=minutes if minutes is not None else next(_ids))
    messages: list[dict[str, Any]] = []
    if system is not None:
        messages.append({"role": "system", "content": system})
    messages.extend(history or [])
    messages.append({"role": "user", "content": user_text})
    request: dict[str, Any] = {"model": "model-a", "messages": messages, **request_params}
    usage: dict[str, Any] = {}
    if prompt_tokens is not None:
        usage["prompt_tokens"] = prompt_tokens
    if completion_tokens is not None:
        usage["completion_tokens"] = completion_tokens
    if reasoning_tokens is not None:
        usage["completion_tokens_details"] = {"reasoning_tokens": reasoning_tokens}
    response = None
    if status == 200:
        response = {
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": response_text}}],
            "usage": usage,
        }
    return {
        "ts": iso(ts),
        "request_id": request_id or f"req_{next(_ids):08d}",
        "account_id": account_id,
        "key_id": f"key_{account_id}",
        "client_ip": "203.0.113.7",
        "user_agent": "OpenAI/Python 1.54.3",
        "endpoint": "/v1/chat/completions",
        "status": status,
        "latency_ms": 420.0,
        "request": request,
        "response": response,
    }


def write_jsonl(path: Path, records: Iterable[Any], *, raw_lines: Iterable[bytes] = ()) -> Path:
    """Write records (and any raw lines, appended) as JSONL, gzip when the name ends in .gz."""
    data = b"".join(orjson.dumps(r) + b"\n" for r in records) + b"".join(raw_lines)
    if path.name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
    return path
