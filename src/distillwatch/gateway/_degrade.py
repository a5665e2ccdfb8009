"""Degrade: pure rewrites of request bodies, response bodies and stream events.

Each function takes a step's :class:`StepPolicy` and returns the rewritten object plus a list
of the changes made (written to the traffic log, so every degradation is explained). None of
them mutates its input.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from distillwatch.gateway._config import CanaryHook, StepPolicy

__all__ = [
    "Refusal",
    "degrade_request",
    "degrade_response",
    "degrade_stream_event",
    "safe_canary",
]

_log = logging.getLogger("distillwatch.gateway")

_MAX_TOKEN_KEYS = ("max_tokens", "max_completion_tokens", "max_output_tokens")
_REASONING_KEYS = ("reasoning_content", "reasoning")


@dataclass(frozen=True)
class Refusal:
    """A call the policy will not forward: the status and message the client gets."""

    status: int
    code: str
    message: str
    headers: tuple[tuple[str, str], ...] = ()


def degrade_request(endpoint: str, body: dict[str, Any],
                    step: StepPolicy) -> tuple[dict[str, Any], list[str]] | Refusal:
    """Apply a step's request-side limits; a :class:`Refusal` when the call is refused."""
    if endpoint in ("/v1/embeddings", "/v1/models"):
        return body, []
    out = dict(body)
    changes: list[str] = []
    if out.get("logit_bias"):
        if step.logit_bias == "refuse":
            return Refusal(400, "logit_bias_not_allowed",
                           "logit_bias is not available for this account.")
        if step.logit_bias == "strip":
            del out["logit_bias"]
            changes.append("logit_bias:stripped")
    _degrade_logprobs(endpoint, out, step, changes)
    if step.max_tokens_cap is not None:
        cap = step.max_tokens_cap
        present = [k for k in _MAX_TOKEN_KEYS if out.get(k) is not None]
        for key in present:
            value = out[key]
            if not isinstance(value, (int, float)) or value > cap:
                out[key] = cap
                changes.append(f"{key}:{value}->{cap}")
        if not present:
            key = "max_output_tokens" if endpoint == "/v1/responses" else "max_tokens"
            out[key] = cap
            changes.append(f"{key}:unset->{cap}")
    if step.n_cap is not None:
        for key in ("n", "best_of"):
            value = out.get(key)
            if isinstance(value, int) and value > step.n_cap:
                out[key] = step.n_cap
                changes.append(f"{key}:{value}->{step.n_cap}")
    return out, changes


def _degrade_logprobs(endpoint: str, out: dict[str, Any], step: StepPolicy,
                      changes: list[str]) -> None:
    if step.logprobs == "allow":
        return
    cap = step.top_logprobs_cap if step.logprobs == "cap" else 0
    if endpoint == "/v1/completions":
        value = out.get("logprobs")
        if isinstance(value, int) and not isinstance(value, bool) and value > cap:
            if cap == 0:
                del out["logprobs"]
            else:
                out["logprobs"] = cap
            changes.append(f"logprobs:{value}->{cap}")
    if endpoint == "/v1/responses":
        include = out.get("include")
        if isinstance(include, list) and any("logprobs" in str(x) for x in include) and cap == 0:
            out["include"] = [x for x in include if "logprobs" not in str(x)]
            changes.append("include:logprobs-stripped")
    top = out.get("top_logprobs")
    if isinstance(top, int) and top > cap:
        if cap == 0:
            del out["top_logprobs"]
        else:
            out["top_logprobs"] = cap
        changes.append(f"top_logprobs:{top}->{cap}")
    if cap == 0 and out.get("logprobs"):
        del out["logprobs"]
        changes.append("logprobs:stripped")


def _cap_logprobs(logprobs: Any, step: StepPolicy) -> Any:
    """Strip a choice's logprobs, or trim each token's alternatives to the cap."""
    if step.logprobs == "strip" or step.top_logprobs_cap == 0:
        return None
    if isinstance(logprobs, dict) and isinstance(logprobs.get("content"), list):
        cap = step.top_logprobs_cap
        content = [
            {**tok, "top_logprobs": tok["top_logprobs"][:cap]}
            if isinstance(tok, dict) and isinstance(tok.get("top_logprobs"), list) else tok
            for tok in logprobs["content"]
        ]
        return {**logprobs, "content": content}
    return logprobs


def _degrade_choice(choice: dict[str, Any], step: StepPolicy, part: str,
                    changes: list[str]) -> dict[str, Any]:
    out = dict(choice)
    if step.logprobs != "allow" and out.get("logprobs") is not None:
        capped = _cap_logprobs(out["logprobs"], step)
        if capped is None:
            del out["logprobs"]
            changes.append("response.logprobs:stripped")
        elif capped != out["logprobs"]:
            out["logprobs"] = capped
            changes.append("response.logprobs:capped")
    inner = out.get(part)
    if step.withhold_reasoning and isinstance(inner, dict):
        hidden = {k: v for k, v in inner.items() if k not in _REASONING_KEYS}
        if len(hidden) != len(inner):
            out[part] = hidden
            changes.append("response.reasoning:withheld")
    return out


def safe_canary(hook: CanaryHook, account_id: str, request_id: str, text: str) -> str:
    """The hook's text, or the original when the hook fails (a failing canary fails open)."""
    try:
        marked = hook(account_id, request_id, text)
    except Exception:
        _log.exception("canary hook failed on %s; answer left unmarked", request_id)
        return text
    return marked if isinstance(marked, str) else text


def _canary_text(obj: dict[str, Any], key: str, hook: CanaryHook, account_id: str,
                 request_id: str, changes: list[str]) -> None:
    text = obj.get(key)
    if isinstance(text, str):
        marked = safe_canary(hook, account_id, request_id, text)
        if marked != text:
            obj[key] = marked
            changes.append("response.canary")


def degrade_response(endpoint: str, body: dict[str, Any], step: StepPolicy, *,
                     canary: CanaryHook | None, account_id: str,
                     request_id: str) -> tuple[dict[str, Any], list[str]]:
    """Apply a step's response-side rewrites to a complete (non-streamed) response body."""
    changes: list[str] = []
    out = dict(body)
    choices = out.get("choices")
    if isinstance(choices, list):
        new_choices = []
        for choice in choices:
            if not isinstance(choice, dict):
                new_choices.append(choice)
                continue
            new = _degrade_choice(choice, step, "message", changes)
            if step.canary and canary is not None:
                if isinstance(new.get("message"), dict):
                    new["message"] = dict(new["message"])
                    _canary_text(new["message"], "content", canary, account_id, request_id,
                                 changes)
                elif "text" in new:
                    _canary_text(new, "text", canary, account_id, request_id, changes)
            new_choices.append(new)
        out["choices"] = new_choices
    output = out.get("output")
    if endpoint == "/v1/responses" and isinstance(output, list):
        items = []
        for item in output:
            if not isinstance(item, dict):
                items.append(item)
                continue
            if step.withhold_reasoning and item.get("type") == "reasoning":
                changes.append("response.reasoning:withheld")
                continue
            if step.canary and canary is not None and isinstance(item.get("content"), list):
                item = {**item, "content": [dict(p) if isinstance(p, dict) else p
                                            for p in item["content"]]}
                for part in item["content"]:
                    if isinstance(part, dict) and part.get("type") == "output_text":
                        _canary_text(part, "text", canary, account_id, request_id, changes)
            items.append(item)
        out["output"] = items
    return out, changes


def degrade_stream_event(event: dict[str, Any], step: StepPolicy,
                         changes: set[str]) -> dict[str, Any]:
    """Apply a step's rewrites to one streamed chunk (``choices[].delta``)."""
    choices = event.get("choices")
    if not isinstance(choices, list):
        return event
    new_choices = []
    found: list[str] = []
    for choice in choices:
        new_choices.append(_degrade_choice(choice, step, "delta", found)
                           if isinstance(choice, dict) else choice)
    changes.update(found)
    return {**event, "choices": new_choices} if found else event
