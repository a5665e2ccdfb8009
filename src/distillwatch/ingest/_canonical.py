"""Turn one traffic-log v1 record (a decoded dict) into a canonical row.

Pure functions, no I/O. The row is a tuple in the order of ``CANONICAL_SCHEMA`` minus the
provenance columns, which the reader appends.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from distillwatch.ingest._secrets import safe_key_id
from distillwatch.ingest._validate import parse_ts

__all__ = ["canonical_row", "content_text"]

_SYSTEM_ROLES = frozenset(("system", "developer"))


def content_text(content: Any) -> str:
    """The text of a message ``content``: a string, or a list of parts with ``text``."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, dict):
                text = part.get("text")
                if isinstance(text, str):
                    texts.append(text)
            elif isinstance(part, str):
                texts.append(part)
        return "\n".join(texts)
    return ""


def _split_messages(messages: list[Any]) -> tuple[str, str, str, int, int, int]:
    """System text, last user turn, earlier turns, and counts of user/assistant/tool turns."""
    system: list[str] = []
    turns: list[str] = []
    last_user = ""
    n_user = n_assistant = n_tool = 0
    last_user_index = -1
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            continue
        role = msg.get("role")
        if role == "user":
            n_user += 1
            last_user_index = i
        elif role == "assistant":
            n_assistant += 1
        elif role in ("tool", "function"):
            n_tool += 1
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            continue
        role = msg.get("role")
        text = content_text(msg.get("content"))
        if isinstance(role, str) and role in _SYSTEM_ROLES:  # a list role is no crash
            system.append(text)
        elif i == last_user_index:
            last_user = text
        elif text:
            turns.append(text)
    return "\n".join(system), last_user, "\n".join(turns), n_user, n_assistant, n_tool


def _prompt_texts(request: dict[str, Any]) -> tuple[str, str, str, int, int, int, int]:
    messages = request.get("messages")
    if isinstance(messages, list):
        system, user, history, n_user, n_asst, n_tool = _split_messages(messages)
        return system, user, history, len(messages), n_user, n_asst, n_tool
    # /v1/responses: `input` is a string or a list of messages, `instructions` the system text
    inp = request.get("input")
    instructions = request.get("instructions")
    system = instructions if isinstance(instructions, str) else ""
    if isinstance(inp, list):
        sys2, user, history, n_user, n_asst, n_tool = _split_messages(inp)
        return "\n".join(t for t in (system, sys2) if t), user, history, len(inp), n_user, \
            n_asst, n_tool
    if isinstance(inp, str):
        return system, inp, "", 1, 1, 0, 0
    prompt = request.get("prompt")
    if isinstance(prompt, list):
        prompt = "\n".join(p for p in prompt if isinstance(p, str))
    if isinstance(prompt, str):
        return system, prompt, "", 1, 1, 0, 0
    return system, "", "", 0, 0, 0, 0


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


_INT32_MAX = 2**31 - 1


def _int(value: Any, limit: int = _INT32_MAX) -> int | None:
    """An integer that fits the canonical column, else ``None`` (never an overflow)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if value != value or not -limit <= value <= limit:
        return None
    return int(value)


def _response_facts(
    response: Any,
) -> tuple[str | None, int, int | None, int | None, int | None, bool, int, str]:
    if not isinstance(response, dict):
        return None, 0, None, None, None, False, 0, ""
    choices = response.get("choices")
    finish = None
    n_choices = 0
    has_logprobs = False
    reasoning_chars = 0
    texts: list[str] = []
    if isinstance(choices, list):
        n_choices = len(choices)
        for choice in choices:
            if not isinstance(choice, dict):
                continue
            if finish is None and isinstance(choice.get("finish_reason"), str):
                finish = choice["finish_reason"]
            if choice.get("logprobs"):
                has_logprobs = True
            message = choice.get("message")
            if isinstance(message, dict):
                texts.append(content_text(message.get("content")))
                reasoning = message.get("reasoning_content") or message.get("reasoning")
                if isinstance(reasoning, str):
                    reasoning_chars += len(reasoning)
            elif isinstance(choice.get("text"), str):
                texts.append(choice["text"])
    elif isinstance(response.get("output_text"), str):
        n_choices = 1
        texts.append(response["output_text"])
    usage = response.get("usage")
    prompt_tokens = completion_tokens = reasoning_tokens = None
    if isinstance(usage, dict):
        prompt_tokens = _int(usage.get("prompt_tokens", usage.get("input_tokens")))
        completion_tokens = _int(usage.get("completion_tokens", usage.get("output_tokens")))
        details = usage.get("completion_tokens_details") or usage.get("output_tokens_details")
        if isinstance(details, dict):
            reasoning_tokens = _int(details.get("reasoning_tokens"))
    return (finish, n_choices, prompt_tokens, completion_tokens, reasoning_tokens, has_logprobs,
            reasoning_chars, texts[0] if texts else "")


def canonical_row(record: dict[str, Any]) -> tuple[Any, ...]:
    """Flatten a valid traffic-log v1 record into the canonical column order."""
    request = record["request"]
    ts: datetime | None = parse_ts(record["ts"])
    if ts is not None:
        ts = ts.astimezone(UTC)
    system, user, history, n_msgs, n_user, n_asst, n_tool = _prompt_texts(request)
    (finish, n_choices, p_tok, c_tok, r_tok, resp_lp, r_chars,
     response_text) = _response_facts(record.get("response"))
    max_tokens = request.get("max_tokens")
    if max_tokens is None:
        max_tokens = request.get("max_completion_tokens", request.get("max_output_tokens"))
    logprobs = request.get("logprobs")
    top_logprobs = _int(request.get("top_logprobs"))
    if isinstance(logprobs, int) and not isinstance(logprobs, bool):
        # legacy completions: an int asks for that many; one past int32 is dropped like any other
        top_logprobs = _int(logprobs) if top_logprobs is None else top_logprobs
        logprobs = True
    bias = request.get("logit_bias")
    tools = request.get("tools")
    reasoning = request.get("reasoning")
    effort = request.get("reasoning_effort")
    if effort is None and isinstance(reasoning, dict):
        effort = reasoning.get("effort")
    model = request.get("model")
    user_id = record.get("user")
    if user_id is None and isinstance(request.get("user"), str):
        user_id = request["user"]
    return (
        record["request_id"],
        record["account_id"],
        ts,
        safe_key_id(record.get("key_id")),
        user_id,
        record.get("client_ip"),
        record.get("user_agent"),
        record["endpoint"],
        record["status"],
        _num(record.get("latency_ms")),
        model if isinstance(model, str) else None,
        n_msgs,
        n_user,
        n_asst,
        n_tool,
        len(tools) if isinstance(tools, list) else 0,
        _num(request.get("temperature")),
        _num(request.get("top_p")),
        _int(request.get("n")),
        _int(max_tokens),
        bool(logprobs),
        top_logprobs,
        len(bias) if isinstance(bias, dict) else 0,
        request.get("seed") is not None,
        bool(request.get("stream")),
        effort if isinstance(effort, str) else None,
        ",".join(request.keys()),
        finish,
        n_choices,
        p_tok,
        c_tok,
        r_tok,
        resp_lp,
        r_chars,
        system,
        user,
        history,
        response_text,
    )
