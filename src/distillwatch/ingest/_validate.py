"""Validation of traffic-log v1 records (see docs/traffic-log.md).

Validation is a pure function of one decoded JSON object: it returns the first problem it finds
as ``(field, message)`` or ``None``. Callers attach the file and line number.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

__all__ = ["parse_ts", "validate_account_record", "validate_traffic_record"]

_REQUIRED_STR = ("request_id", "account_id", "endpoint")
_OPTIONAL_STR = ("key_id", "user", "client_ip", "user_agent")


def parse_ts(value: Any) -> datetime | None:
    """Parse an RFC 3339 timestamp with ``Z`` or an offset; ``None`` when it is not one."""
    if not isinstance(value, str) or len(value) < 20 or value[10] not in "Tt ":
        return None
    return _parse_ts(value)


@lru_cache(maxsize=256)
def _parse_ts(value: str) -> datetime | None:
    """``parse_ts`` of a string; cached, as validation and flattening both parse each ``ts``."""
    text = value[:-1] + "+00:00" if value[-1] in "Zz" else value
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed


def _check_messages(messages: Any) -> tuple[str, str] | None:
    if not isinstance(messages, list):
        return ("request.messages", "must be a list")
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            return (f"request.messages[{i}]", "must be an object")
        content = msg.get("content")
        if content is None or isinstance(content, str):
            continue
        if not isinstance(content, list):
            return (f"request.messages[{i}].content", "must be a string or a list of parts")
        for j, part in enumerate(content):
            if not isinstance(part, dict):
                return (f"request.messages[{i}].content[{j}]", "must be an object")
            text = part.get("text")
            if text is not None and not isinstance(text, str):
                return (f"request.messages[{i}].content[{j}].text", "must be a string")
    return None


_PLAIN_NUMBERS = (int, float)  # exactly these types (not bool) need no further look


def _check_number(obj: dict[str, Any], key: str, prefix: str) -> tuple[str, str] | None:
    value = obj.get(key)
    if value is None or type(value) in _PLAIN_NUMBERS:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return (f"{prefix}{key}", "must be a number")
    return None


def _check_request(request: Any) -> tuple[str, str] | None:
    if not isinstance(request, dict):
        return ("request", "must be an object")
    if "messages" in request:
        problem = _check_messages(request["messages"])
        if problem:
            return problem
    model = request.get("model")
    if model is not None and not isinstance(model, str):
        return ("request.model", "must be a string")
    for key in ("temperature", "top_p", "n", "max_tokens", "max_completion_tokens",
                "top_logprobs", "seed"):
        problem = _check_number(request, key, "request.")
        if problem:
            return problem
    bias = request.get("logit_bias")
    if bias is not None and not isinstance(bias, dict):
        return ("request.logit_bias", "must be an object")
    return None


def _check_response(response: Any) -> tuple[str, str] | None:
    if response is None:
        return None
    if not isinstance(response, dict):
        return ("response", "must be an object or null")
    choices = response.get("choices")
    if choices is not None:
        if not isinstance(choices, list):
            return ("response.choices", "must be a list")
        for i, choice in enumerate(choices):
            if not isinstance(choice, dict):
                return (f"response.choices[{i}]", "must be an object")
            message = choice.get("message")
            if message is not None and not isinstance(message, dict):
                return (f"response.choices[{i}].message", "must be an object")
    usage = response.get("usage")
    if usage is not None:
        if not isinstance(usage, dict):
            return ("response.usage", "must be an object")
        for key in ("prompt_tokens", "completion_tokens"):
            problem = _check_number(usage, key, "response.usage.")
            if problem:
                return problem
    return None


def validate_traffic_record(obj: Any) -> tuple[str, str] | None:
    """Return ``(field, problem)`` for the first contract violation, or ``None`` if valid."""
    if not isinstance(obj, dict):
        return ("<record>", "must be a JSON object")
    if "ts" not in obj:
        return ("ts", "is required")
    if parse_ts(obj["ts"]) is None:
        return ("ts", "must be an RFC 3339 timestamp with Z or an offset")
    for key in _REQUIRED_STR:
        value = obj.get(key)
        if value is None:
            return (key, "is required")
        if not isinstance(value, str) or not value:
            return (key, "must be a non-empty string")
    for key in _OPTIONAL_STR:
        value = obj.get(key)
        if value is not None and not isinstance(value, str):
            return (key, "must be a string")
    status = obj.get("status")
    if status is None:
        return ("status", "is required")
    if isinstance(status, bool) or not isinstance(status, int):
        return ("status", "must be an integer")
    if not 100 <= status <= 599:
        return ("status", "must be an HTTP status between 100 and 599")
    problem = _check_number(obj, "latency_ms", "")
    if problem:
        return problem
    if "request" not in obj:
        return ("request", "is required")
    problem = _check_request(obj["request"])
    if problem:
        return problem
    if "response" not in obj:
        return ("response", "is required (null when the call failed)")
    return _check_response(obj["response"])


def validate_account_record(obj: Any) -> tuple[str, str] | None:
    """Return ``(field, problem)`` for the first violation in an accounts-file record."""
    if not isinstance(obj, dict):
        return ("<record>", "must be a JSON object")
    account_id = obj.get("account_id")
    if not isinstance(account_id, str) or not account_id:
        return ("account_id", "is required and must be a non-empty string")
    created = obj.get("created_at")
    if created is not None and parse_ts(created) is None:
        return ("created_at", "must be an RFC 3339 timestamp with Z or an offset")
    for key in ("payment_fingerprint", "email_domain", "country", "tier"):
        value = obj.get(key)
        if value is not None and not isinstance(value, str):
            return (key, "must be a string")
    allow = obj.get("allowlisted")
    if allow is not None and not isinstance(allow, bool):
        return ("allowlisted", "must be true or false")
    return None
