"""Adapter: OpenTelemetry GenAI client spans (OTLP/JSON) to traffic-log v1.

Input is the JSON encoding of ``ExportTraceServiceRequest``
(``{"resourceSpans": [{"resource": ..., "scopeSpans": [{"scope": ..., "spans": [...]}]}]}``),
either one document per file (possibly pretty-printed) or one document per line, as the
OpenTelemetry Collector's ``file`` exporter writes them. Each span whose
``gen_ai.operation.name`` names a model call becomes one record; other spans (HTTP, database,
``execute_tool``, ...) are skipped and counted in :class:`OtelStats`.

Row numbers: in JSON Lines input, the 1-based line of the document holding the span (all
spans of one line share it); in a single-document file, the 1-based position of the span in
the document, counting every span, skipped ones too. Error messages name the span by
``traceId:spanId`` and its path in the document. See docs/adapters.md for the mapping.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from distillwatch.errors import InputError
from distillwatch.ingest._litellm import (
    format_ts,
    iter_json_source,
    loads,
    nonempty_str,
    peek_first_byte,
)
from distillwatch.ingest._validate import validate_traffic_record

__all__ = ["GENAI_OPERATION_ENDPOINTS", "OtelStats", "iter_otel_genai_spans"]

#: ``gen_ai.operation.name`` values that are model calls, and the endpoint each is filed under.
GENAI_OPERATION_ENDPOINTS: dict[str, str] = {
    "chat": "/v1/chat/completions",
    "generate_content": "/v1/chat/completions",
    "text_completion": "/v1/completions",
    "embeddings": "/v1/embeddings",
    "invoke_agent": "/v1/responses",
}

#: Older instrumentations (OpenLLMetry) set ``llm.request.type`` instead of the operation name.
_LLM_REQUEST_TYPES = {"chat": "chat", "completion": "text_completion", "embedding": "embeddings"}

_STATUS_CODE_ERROR = 2


@dataclass
class OtelStats:
    """What one call of :func:`iter_otel_genai_spans` saw; pass one in to read it afterwards.

    ``spans == records + errors + skipped``: every span is a record, an error or skipped.
    ``bad_documents`` counts lines or documents that are not JSON or not an OTLP export.
    """

    documents: int = 0
    spans: int = 0
    records: int = 0
    errors: int = 0
    skipped: int = 0
    skipped_by_operation: Counter[str] = field(default_factory=Counter)
    non_trace_documents: int = 0
    bad_documents: int = 0


class _SpanError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


# ---------------------------------------------------------------------------------------------
# OTLP/JSON values.


def any_value(value: Any) -> Any:
    """Decode an OTLP/JSON ``AnyValue`` to a plain Python value (``None`` when empty)."""
    if not isinstance(value, dict):
        return None
    if "stringValue" in value:
        return value["stringValue"] if isinstance(value["stringValue"], str) else None
    if "boolValue" in value:
        return value["boolValue"] if isinstance(value["boolValue"], bool) else None
    if "intValue" in value:  # int64 is a JSON string in OTLP/JSON; accept numbers too
        raw = value["intValue"]
        if isinstance(raw, bool):
            return None
        if isinstance(raw, int):
            return raw
        if isinstance(raw, str):
            try:
                return int(raw)
            except ValueError:
                return None
        return None
    if "doubleValue" in value:
        raw = value["doubleValue"]
        if isinstance(raw, bool):
            return None
        if isinstance(raw, (int, float)):
            return float(raw)
        if isinstance(raw, str):  # "NaN", "Infinity" and numeric strings
            try:
                return float(raw)
            except ValueError:
                return None
        return None
    if "arrayValue" in value:
        inner = value["arrayValue"]
        items = inner.get("values") if isinstance(inner, dict) else None
        return [any_value(v) for v in items] if isinstance(items, list) else []
    if "kvlistValue" in value:
        inner = value["kvlistValue"]
        items = inner.get("values") if isinstance(inner, dict) else None
        return attributes(items)
    if "bytesValue" in value:  # kept as its base64 text
        return value["bytesValue"] if isinstance(value["bytesValue"], str) else None
    return None


def attributes(items: Any) -> dict[str, Any]:
    """Decode an OTLP/JSON ``KeyValue`` list to a dict; malformed entries are ignored."""
    result: dict[str, Any] = {}
    if not isinstance(items, list):
        return result
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("key"), str):
            result[item["key"]] = any_value(item.get("value"))
    return result


def _unix_nano(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            return None
    if isinstance(value, float) and math.isfinite(value):
        value = int(value)
    if isinstance(value, int) and 0 < value < 2**63:
        return value
    return None


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        if not math.isfinite(number):
            return None
        return int(number) if number.is_integer() and "." not in value else number
    return None


def _int(value: Any) -> int | None:
    number = _number(value)
    if number is None or number != int(number):
        return None
    return int(number)


def _json_attr(value: Any) -> Any:
    """Structured content attributes are JSON strings in most SDKs, or structured values."""
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in ("[", "{"):
            try:
                return loads(text)
            except ValueError:
                return value
    return value


# ---------------------------------------------------------------------------------------------
# Reading the export.


def iter_otel_genai_spans(
    path: Path,
    stream: BinaryIO,
    *,
    account_attr: str = "distillwatch.account_id",
    stats: OtelStats | None = None,
) -> Iterator[tuple[int, dict[str, Any] | InputError]]:
    """Convert OTLP/JSON trace exports to traffic-log v1, one record per GenAI model-call span.

    ``account_attr`` names the span or resource attribute that holds the account id; when no
    span carries it, the resource's ``service.name`` is the account. Spans that are not GenAI
    model calls yield nothing and are counted in ``stats`` (``skipped``,
    ``skipped_by_operation``).
    """
    counts = stats if stats is not None else OtelStats()
    _, stream = peek_first_byte(stream)
    source = iter_json_source(path, stream, "OTLP/JSON traces")
    for kind, number, document in source:
        if isinstance(document, InputError):
            counts.bad_documents += 1
            yield number, document
            continue
        documents = document if kind == "document" and isinstance(document, list) else [document]
        ordinal = 0
        for doc in documents:
            counts.documents += 1
            if not isinstance(doc, dict) or not (
                "resourceSpans" in doc or "resourceLogs" in doc or "resourceMetrics" in doc
            ):
                counts.bad_documents += 1
                yield number, InputError(
                    "not an OTLP/JSON ExportTraceServiceRequest (no resourceSpans)",
                    path=str(path), line=number, field="resourceSpans",
                )
                continue
            if "resourceSpans" not in doc:  # a logs or metrics export: no spans to read
                counts.non_trace_documents += 1
                continue
            for span_path, resource, scope_attrs, span in _walk(doc):
                counts.spans += 1
                ordinal += 1
                row = number if kind == "line" else ordinal
                item = _convert_or_error(
                    path, row, span_path, resource, scope_attrs, span, account_attr, counts,
                )
                if item is not None:
                    yield row, item


def _walk(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], dict[str, Any], Any]]:
    resource_spans = doc.get("resourceSpans")
    if not isinstance(resource_spans, list):
        return
    for i, rs in enumerate(resource_spans):
        if not isinstance(rs, dict):
            yield f"resourceSpans[{i}]", {}, {}, rs
            continue
        resource = rs.get("resource")
        resource_attrs = attributes(resource.get("attributes")) if isinstance(
            resource, dict) else {}
        scope_spans = rs.get("scopeSpans")
        if scope_spans is None:  # protocol versions before 0.19 called it this
            scope_spans = rs.get("instrumentationLibrarySpans")
        if not isinstance(scope_spans, list):
            continue
        for j, ss in enumerate(scope_spans):
            prefix = f"resourceSpans[{i}].scopeSpans[{j}]"
            if not isinstance(ss, dict):
                yield prefix, resource_attrs, {}, ss
                continue
            scope = ss.get("scope")
            scope_attrs = {"scope.name": scope.get("name")} if isinstance(scope, dict) else {}
            spans = ss.get("spans")
            if not isinstance(spans, list):
                continue
            for k, span in enumerate(spans):
                yield f"{prefix}.spans[{k}]", resource_attrs, scope_attrs, span


def _convert_or_error(
    path: Path, row: int, span_path: str, resource: dict[str, Any], scope: dict[str, Any],
    span: Any, account_attr: str, counts: OtelStats,
) -> dict[str, Any] | InputError | None:
    if not isinstance(span, dict):
        counts.errors += 1
        return InputError("a span must be a JSON object", path=str(path), line=row,
                          field=span_path)
    attrs = attributes(span.get("attributes"))
    operation = _operation(span, attrs)
    endpoint = GENAI_OPERATION_ENDPOINTS.get(operation or "")
    if endpoint is None:
        counts.skipped += 1
        counts.skipped_by_operation[operation or "<none>"] += 1
        return None
    span_ref = _span_ref(span)
    try:
        record = convert_span(span, attrs, resource, operation or "", endpoint, account_attr)
    except _SpanError as err:
        counts.errors += 1
        return InputError(f"span {span_ref}: {err.message}", path=str(path), line=row,
                          field=f"{span_path}.{err.field}")
    problem = validate_traffic_record(record)
    if problem is not None:
        counts.errors += 1
        name, message = problem
        return InputError(
            f"span {span_ref}: converted record is not valid traffic-log v1: {name} {message}",
            path=str(path), line=row, field=f"{span_path} -> {name}",
        )
    scope_name = nonempty_str(scope.get("scope.name"))
    if scope_name:
        record["otel"]["scope"] = scope_name
    counts.records += 1
    return record


def _span_ref(span: dict[str, Any]) -> str:
    trace_id = span.get("traceId") if isinstance(span.get("traceId"), str) else "?"
    span_id = span.get("spanId") if isinstance(span.get("spanId"), str) else "?"
    return f"{trace_id}:{span_id}"


def _operation(span: dict[str, Any], attrs: dict[str, Any]) -> str | None:
    operation = nonempty_str(attrs.get("gen_ai.operation.name"))
    if operation:
        return operation
    request_type = nonempty_str(attrs.get("llm.request.type"))
    if request_type:
        return _LLM_REQUEST_TYPES.get(request_type, request_type)
    if not any(key.startswith("gen_ai.") for key in attrs):
        return None
    # Pre-1.27 GenAI spans carried no operation name; the span name starts with it.
    name = span.get("name")
    first = name.split(" ", 1)[0] if isinstance(name, str) and name else ""
    return first if first in GENAI_OPERATION_ENDPOINTS else None


# ---------------------------------------------------------------------------------------------
# Converting one span.


def convert_span(
    span: dict[str, Any], attrs: dict[str, Any], resource: dict[str, Any],
    operation: str, endpoint: str, account_attr: str,
) -> dict[str, Any]:
    """Map one GenAI span to a traffic-log v1 record; raises ``_SpanError`` on a span that
    lacks what a record needs (start time, an id, an account)."""
    start_ns = _unix_nano(span.get("startTimeUnixNano"))
    if start_ns is None:
        raise _SpanError("startTimeUnixNano", "is missing or not a positive integer")
    end_ns = _unix_nano(span.get("endTimeUnixNano"))
    try:
        seconds, nanos = divmod(start_ns, 1_000_000_000)
        start = datetime.fromtimestamp(seconds, UTC) + timedelta(microseconds=nanos // 1000)
    except (OverflowError, OSError, ValueError) as exc:
        raise _SpanError("startTimeUnixNano", "is out of range") from exc

    response_id = nonempty_str(attrs.get("gen_ai.response.id"))
    trace_id = nonempty_str(span.get("traceId"))
    span_id = nonempty_str(span.get("spanId"))
    if response_id:
        request_id = response_id
    elif trace_id and span_id:
        request_id = f"{trace_id}:{span_id}"
    else:
        raise _SpanError("spanId", "no gen_ai.response.id and no traceId/spanId to identify it")

    account = (
        nonempty_str(attrs.get(account_attr))
        or nonempty_str(resource.get(account_attr))
        or nonempty_str(resource.get("service.name"))
    )
    if account is None:
        raise _SpanError(
            f"attributes.{account_attr}",
            f"no {account_attr} attribute and no resource service.name to attribute it to",
        )

    status = _status(span, attrs)
    request = _request(span, attrs, operation)
    response = None if status >= 400 else _response(span, attrs, operation)

    record: dict[str, Any] = {
        "ts": format_ts(start),
        "request_id": request_id,
        "account_id": account,
    }
    key_id = nonempty_str(attrs.get("distillwatch.key_id")) or nonempty_str(
        resource.get("distillwatch.key_id"))
    if key_id:
        record["key_id"] = key_id
    user = nonempty_str(attrs.get("enduser.id")) or nonempty_str(resource.get("enduser.id"))
    if user:
        record["user"] = user
    client_ip = nonempty_str(attrs.get("client.address"))
    if client_ip:
        record["client_ip"] = client_ip
    user_agent = nonempty_str(attrs.get("user_agent.original"))
    if user_agent:
        record["user_agent"] = user_agent
    record["endpoint"] = endpoint
    record["status"] = status
    if end_ns is not None and end_ns >= start_ns:
        record["latency_ms"] = round((end_ns - start_ns) / 1_000_000, 3)
    record["request"] = request
    record["response"] = response
    otel: dict[str, Any] = {"operation": operation}
    if trace_id:
        otel["trace_id"] = trace_id
    if span_id:
        otel["span_id"] = span_id
    for key, name in (("gen_ai.provider.name", "provider"), ("gen_ai.system", "provider"),
                      ("server.address", "server_address"), ("error.type", "error_type"),
                      ("gen_ai.conversation.id", "conversation_id")):
        value = nonempty_str(attrs.get(key))
        if value and name not in otel:
            otel[name] = value
    record["otel"] = otel
    return record


def _status(span: dict[str, Any], attrs: dict[str, Any]) -> int:
    http_status = _int(attrs.get("http.response.status_code"))
    if http_status is None:
        http_status = _int(attrs.get("http.status_code"))
    if http_status is not None and 100 <= http_status <= 599:
        return http_status
    error_type = nonempty_str(attrs.get("error.type"))
    if error_type and error_type.isdigit() and 400 <= int(error_type) <= 599:
        return int(error_type)
    span_status = span.get("status")
    code = span_status.get("code") if isinstance(span_status, dict) else None
    is_error = code in (_STATUS_CODE_ERROR, "STATUS_CODE_ERROR", "2")
    if error_type or is_error:
        return 500
    return 200


_REQUEST_PARAMS: tuple[tuple[str, str, str], ...] = (
    ("gen_ai.request.temperature", "temperature", "number"),
    ("gen_ai.request.top_p", "top_p", "number"),
    ("gen_ai.request.top_k", "top_k", "number"),
    ("gen_ai.request.max_tokens", "max_tokens", "int"),
    ("gen_ai.request.seed", "seed", "int"),
    ("gen_ai.request.choice.count", "n", "int"),
    ("gen_ai.request.frequency_penalty", "frequency_penalty", "number"),
    ("gen_ai.request.presence_penalty", "presence_penalty", "number"),
    ("gen_ai.request.stop_sequences", "stop", "list"),
    ("gen_ai.request.encoding_formats", "encoding_format", "list"),
)


def _request(span: dict[str, Any], attrs: dict[str, Any], operation: str) -> dict[str, Any]:
    request: dict[str, Any] = {}
    model = nonempty_str(attrs.get("gen_ai.request.model")) or nonempty_str(
        attrs.get("gen_ai.response.model"))
    if model:
        request["model"] = model
    messages = _input_messages(span, attrs)
    if messages:
        if operation == "text_completion":
            request["prompt"] = "\n".join(_text_of(m.get("content")) for m in messages)
        elif operation == "embeddings":
            request["input"] = [_text_of(m.get("content")) for m in messages]
        else:
            request["messages"] = messages
    for key, name, kind in _REQUEST_PARAMS:
        value = attrs.get(key)
        if value is None:
            continue
        if kind == "list":
            if isinstance(value, list) and value:
                request[name] = value if name == "stop" else value[0]
            continue
        number = _int(value) if kind == "int" else _number(value)
        if number is not None:
            request[name] = number
    user = nonempty_str(attrs.get("enduser.id")) or nonempty_str(
        attrs.get("gen_ai.openai.request.user"))
    if user:
        request["user"] = user
    if attrs.get("gen_ai.request.stream") is True or attrs.get("llm.is_streaming") is True:
        request["stream"] = True
    return request


def _response(span: dict[str, Any], attrs: dict[str, Any], operation: str) -> dict[str, Any]:
    response: dict[str, Any] = {}
    response_id = nonempty_str(attrs.get("gen_ai.response.id"))
    if response_id:
        response["id"] = response_id
    model = nonempty_str(attrs.get("gen_ai.response.model")) or nonempty_str(
        attrs.get("gen_ai.request.model"))
    if model:
        response["model"] = model
    if operation == "embeddings":
        response["object"] = "list"
    else:
        response["object"] = (
            "text_completion" if operation == "text_completion" else "chat.completion"
        )
        choices = _output_choices(span, attrs)
        if choices:
            response["choices"] = choices
    prompt_tokens = _int(attrs.get("gen_ai.usage.input_tokens"))
    if prompt_tokens is None:
        prompt_tokens = _int(attrs.get("gen_ai.usage.prompt_tokens"))
    completion_tokens = _int(attrs.get("gen_ai.usage.output_tokens"))
    if completion_tokens is None:
        completion_tokens = _int(attrs.get("gen_ai.usage.completion_tokens"))
    usage: dict[str, Any] = {}
    if prompt_tokens is not None:
        usage["prompt_tokens"] = prompt_tokens
    if completion_tokens is not None:
        usage["completion_tokens"] = completion_tokens
    total = _int(attrs.get("gen_ai.usage.total_tokens")) or _int(
        attrs.get("llm.usage.total_tokens"))
    if total is None and prompt_tokens is not None and completion_tokens is not None:
        total = prompt_tokens + completion_tokens
    if total is not None:
        usage["total_tokens"] = total
    reasoning = _int(attrs.get("gen_ai.usage.reasoning_tokens"))
    if reasoning is not None:
        usage["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    if usage:
        response["usage"] = usage
    return response


# ---------------------------------------------------------------------------------------------
# Message content: new-style JSON attributes, old-style attributes and span events.


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p["text"] for p in content
                       if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    try:
        return orjson.dumps(value, default=str).decode("utf-8")
    except TypeError:
        return str(value)


def _parts_to_message(role: str, parts: Any, extra: dict[str, Any]) -> dict[str, Any]:
    """An OTel GenAI message (``role`` + ``parts``) as an OpenAI chat message."""
    message: dict[str, Any] = {"role": role}
    content: list[dict[str, Any]] = []
    tool_calls: list[dict[str, Any]] = []
    for part in parts if isinstance(parts, list) else []:
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind == "text":
            text = _as_text(part.get("content"))
            content.append({"type": "text", "text": text or ""})
        elif kind in ("tool_call", "function_call"):
            arguments = part.get("arguments")
            tool_calls.append({
                "id": _as_text(part.get("id")) or "",
                "type": "function",
                "function": {"name": _as_text(part.get("name")) or "",
                             "arguments": _as_text(arguments) or ""},
            })
        elif kind == "tool_call_response":
            if part.get("id") is not None:
                message["tool_call_id"] = _as_text(part.get("id"))
            result = part.get("response", part.get("result"))
            content.append({"type": "text", "text": _as_text(result) or ""})
        elif kind == "reasoning":
            text = _as_text(part.get("content"))
            if text:
                message["reasoning_content"] = message.get("reasoning_content", "") + text
        else:
            kept = {k: v for k, v in part.items() if k != "text"}
            kept["type"] = str(kind) if kind is not None else "unknown"
            content.append(kept)
    if len(content) == 1 and content[0].get("type") == "text":
        message["content"] = content[0]["text"]
    elif content:
        message["content"] = content
    else:
        message["content"] = None
    if tool_calls:
        message["tool_calls"] = tool_calls
    message.update(extra)
    return message


def _openai_message(value: Any, default_role: str) -> dict[str, Any] | None:
    """An OpenAI-shaped message (``{"role", "content"}``) from old-style attributes/events."""
    if isinstance(value, str):
        return {"role": default_role, "content": value}
    if not isinstance(value, dict):
        return None
    if "parts" in value:
        role = nonempty_str(value.get("role")) or default_role
        return _parts_to_message(role, value.get("parts"), {})
    message: dict[str, Any] = {"role": nonempty_str(value.get("role")) or default_role}
    content = value.get("content")
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict):
                text = part.get("text", part.get("content"))
                parts.append({"type": str(part.get("type") or "text"),
                              "text": _as_text(text) or ""})
            elif isinstance(part, str):
                parts.append({"type": "text", "text": part})
        message["content"] = parts
    else:
        message["content"] = _as_text(content)
    if isinstance(value.get("tool_calls"), list):
        message["tool_calls"] = value["tool_calls"]
    if value.get("tool_call_id") is not None:
        message["tool_call_id"] = _as_text(value["tool_call_id"])
    elif message["role"] == "tool" and value.get("id") is not None:
        message["tool_call_id"] = _as_text(value["id"])
    return message


def _indexed(attrs: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    """``prefix.0.role``, ``prefix.0.content``, ... (OpenLLMetry) as a list of dicts."""
    found: dict[int, dict[str, Any]] = {}
    head = prefix + "."
    for key, value in attrs.items():
        if not key.startswith(head):
            continue
        index_text, _, name = key[len(head):].partition(".")
        if not index_text.isdigit() or not name:
            continue
        found.setdefault(int(index_text), {})[name] = value
    return [found[i] for i in sorted(found)]


def _events(span: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    events = span.get("events")
    result: list[tuple[str, dict[str, Any]]] = []
    if not isinstance(events, list):
        return result
    for event in events:
        if isinstance(event, dict) and isinstance(event.get("name"), str):
            result.append((event["name"], attributes(event.get("attributes"))))
    return result


def _event_body(event_attrs: dict[str, Any]) -> dict[str, Any]:
    """The body of a pre-1.37 GenAI event recorded on a span: ``gen_ai.event.content`` as
    JSON, else the event's own attributes."""
    body = _json_attr(event_attrs.get("gen_ai.event.content"))
    if isinstance(body, dict):
        return body
    return {k: _json_attr(v) for k, v in event_attrs.items() if not k.startswith("gen_ai.")}


_ROLE_EVENTS = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}


def _input_messages(span: dict[str, Any], attrs: dict[str, Any]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    system = _json_attr(attrs.get("gen_ai.system_instructions"))
    if isinstance(system, list) and system:
        messages.append(_parts_to_message("system", system, {}))
    elif isinstance(system, str) and system:
        messages.append({"role": "system", "content": system})
    new_style = _json_attr(attrs.get("gen_ai.input.messages"))
    if isinstance(new_style, list):
        for item in new_style:
            message = _openai_message(item, "user")
            if message is not None:
                messages.append(message)
        return messages
    if isinstance(new_style, str) and new_style:
        messages.append({"role": "user", "content": new_style})
        return messages
    # Old style 1: gen_ai.prompt as a JSON list of OpenAI messages, or as plain text.
    old = _json_attr(attrs.get("gen_ai.prompt"))
    events = _events(span)
    if old is None:
        for name, event_attrs in events:
            if name == "gen_ai.content.prompt":
                old = _json_attr(event_attrs.get("gen_ai.prompt"))
                break
    if isinstance(old, list):
        return messages + [m for m in (_openai_message(v, "user") for v in old) if m]
    if isinstance(old, (str, dict)) and old:
        message = _openai_message(old, "user")
        return messages + ([message] if message else [])
    # Old style 2: indexed attributes gen_ai.prompt.N.role / .content.
    indexed = _indexed(attrs, "gen_ai.prompt")
    if indexed:
        return messages + [m for m in (_openai_message(v, "user") for v in indexed) if m]
    # Old style 3: one span event per message (gen_ai.user.message, ...).
    for name, event_attrs in events:
        role = _ROLE_EVENTS.get(name)
        if role is None:
            continue
        body = _event_body(event_attrs)
        message = _openai_message(body, role)
        if message is not None:
            if not nonempty_str(body.get("role")):
                message["role"] = role
            messages.append(message)
    return messages


def _output_choices(span: dict[str, Any], attrs: dict[str, Any]) -> list[dict[str, Any]]:
    finish_reasons = attrs.get("gen_ai.response.finish_reasons")
    reasons = [r for r in finish_reasons if isinstance(r, str)] if isinstance(
        finish_reasons, list) else []
    choices: list[dict[str, Any]] = []
    new_style = _json_attr(attrs.get("gen_ai.output.messages"))
    if isinstance(new_style, list):
        for index, item in enumerate(new_style):
            if not isinstance(item, dict):
                continue
            message = _openai_message(item, "assistant")
            if message is None:
                continue
            choices.append(_choice(index, message, item.get("finish_reason"), reasons))
        if choices:
            return choices
    old = _json_attr(attrs.get("gen_ai.completion"))
    if old is None:
        for name, event_attrs in _events(span):
            if name == "gen_ai.content.completion":
                old = _json_attr(event_attrs.get("gen_ai.completion"))
                break
    if isinstance(old, (str, dict)):
        old = [old]
    if not isinstance(old, list):
        old = _indexed(attrs, "gen_ai.completion")
    if not old:
        old = [_event_body(a) for name, a in _events(span) if name == "gen_ai.choice"]
    for position, item in enumerate(old):
        body = item
        index = position
        finish = None
        if isinstance(item, dict):
            finish = item.get("finish_reason")
            if _int(item.get("index")) is not None:
                index = _int(item.get("index")) or 0
            if isinstance(item.get("message"), (dict, str)):
                body = item["message"]
        message = _openai_message(body, "assistant")
        if message is not None:
            choices.append(_choice(index, message, finish, reasons))
    if not choices:
        choices = [
            {"index": i, "message": {"role": "assistant", "content": None}, "finish_reason": r}
            for i, r in enumerate(reasons)
        ]
    return choices


def _choice(
    index: int, message: dict[str, Any], finish: Any, reasons: list[str],
) -> dict[str, Any]:
    reason = finish if isinstance(finish, str) else (
        reasons[index] if 0 <= index < len(reasons) else None)
    return {"index": index, "message": message, "finish_reason": reason}
