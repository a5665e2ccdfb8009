"""OpenTelemetry GenAI span adapter: OTLP/JSON traces in, traffic-log v1 records out."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distillwatch.errors import InputError
from distillwatch.ingest import validate_traffic_record
from distillwatch.ingest._otel import OtelStats, iter_otel_genai_spans

DATA = Path(__file__).parent / "data" / "adapters"
DOC_FILE = DATA / "otel_genai_spans.json"
JSONL_FILE = DATA / "otel_genai_spans.jsonl"

Item = tuple[int, "dict[str, Any] | InputError"]


def run(path: Path, data: bytes | None = None, **kwargs: Any) -> list[Item]:
    stream = io.BytesIO(data if data is not None else path.read_bytes())
    return list(iter_otel_genai_spans(path, stream, **kwargs))


def records(items: list[Item]) -> dict[str, dict[str, Any]]:
    return {r["request_id"]: r for _, r in items if isinstance(r, dict)}


def test_document_spans_convert_validate_and_non_genai_spans_are_counted() -> None:
    stats = OtelStats()
    items = run(DOC_FILE, stats=stats)
    # 8 spans in document order; span 2 (execute_tool) and span 4 (HTTP POST) are skipped.
    assert [n for n, _ in items] == [1, 3, 5, 6, 7, 8]
    for _, item in items:
        assert isinstance(item, dict), item
        assert validate_traffic_record(item) is None
        json.dumps(item)
    assert stats.spans == 8 and stats.records == 6 and stats.errors == 0
    assert stats.skipped == 2
    assert stats.skipped_by_operation == {"execute_tool": 1, "<none>": 1}


def test_new_style_chat_span_mapping() -> None:
    rec = records(run(DOC_FILE))["chatcmpl-C1qZ8rT2uVwX"]
    assert rec["ts"] == "2025-03-14T09:26:53.000Z"
    assert rec["account_id"] == "support-bot"  # resource service.name fallback
    assert rec["user"] == "ticket-user-2231"
    assert rec["client_ip"] == "203.0.113.50"
    assert rec["user_agent"] == "OpenAI/Python 1.99.1"
    assert rec["endpoint"] == "/v1/chat/completions"
    assert rec["status"] == 200
    assert rec["latency_ms"] == pytest.approx(1842.5)
    req = rec["request"]
    assert req["model"] == "gpt-4o-mini"
    assert (req["temperature"], req["top_p"], req["max_tokens"], req["seed"], req["n"]) == (
        0.2, 0.95, 512, 7, 2)
    assert req["stop"] == ["\n\nUser:"]
    messages = req["messages"]
    assert messages[0] == {"role": "system",
                           "content": "You are a helpful support agent for Acme routers."}
    assert messages[1]["content"] == [
        {"type": "text", "text": "My router keeps rebooting."},
        {"type": "text", "text": "Model AX-3000, firmware 2.1."},
    ]
    assert messages[2]["tool_calls"][0]["function"]["name"] == "lookup_firmware"
    assert messages[3] == {"role": "tool", "tool_call_id": "call_q7", "content": "latest: 2.4"}
    resp = rec["response"]
    assert resp["model"] == "gpt-4o-mini-2024-07-18"
    assert [c["finish_reason"] for c in resp["choices"]] == ["stop", "length"]
    assert resp["choices"][0]["message"]["content"].startswith("Please update to firmware 2.4")
    assert resp["choices"][1]["message"]["reasoning_content"] == "User has old firmware."
    assert resp["usage"] == {"prompt_tokens": 58, "completion_tokens": 131, "total_tokens": 189}


def test_error_spans() -> None:
    recs = records(run(DOC_FILE))
    limited = recs["0af7651916cd43dd8448eb211c80319c:b7ad6b7169203331"]
    assert limited["status"] == 429 and limited["response"] is None
    assert limited["request"]["messages"][0]["content"].startswith("Give me 100")
    timeout = recs["4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902ba"]
    assert timeout["status"] == 500 and timeout["response"] is None
    assert timeout["endpoint"] == "/v1/completions"
    assert timeout["request"]["prompt"] == "Once upon a time"
    assert timeout["latency_ms"] == pytest.approx(30000.0)


def test_old_style_spans() -> None:
    recs = records(run(DOC_FILE))
    indexed = recs["chatcmpl-9ZyXwVuT"]  # OpenLLMetry: llm.request.type + gen_ai.prompt.N.*
    assert indexed["account_id"] == "acct-4471"  # resource distillwatch.account_id
    assert [m["role"] for m in indexed["request"]["messages"]] == ["system", "user"]
    assert indexed["response"]["choices"][0]["finish_reason"] == "stop"
    assert indexed["response"]["choices"][0]["message"]["content"].startswith("Q: A Carnot")
    assert indexed["response"]["usage"] == {"prompt_tokens": 31, "completion_tokens": 212,
                                            "total_tokens": 243}
    events = recs["4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b8"]
    assert events["account_id"] == "acct-4471-sub"  # span attribute wins over the resource
    assert events["request"]["messages"] == [
        {"role": "system", "content": "Answer in one word."},
        {"role": "user", "content": "Capital of France?"},
    ]
    assert events["response"]["choices"] == [
        {"index": 0, "message": {"role": "assistant", "content": "Paris"},
         "finish_reason": "stop"}]
    embed = recs["4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b9"]
    assert embed["endpoint"] == "/v1/embeddings"
    assert embed["response"]["usage"] == {"prompt_tokens": 12}


def test_account_attr_parameter() -> None:
    recs = records(run(DOC_FILE, account_attr="host.name"))
    assert recs["chatcmpl-9ZyXwVuT"]["account_id"] == "worker-7"
    assert recs["chatcmpl-C1qZ8rT2uVwX"]["account_id"] == "support-bot"


def test_collector_file_exporter_jsonl() -> None:
    stats = OtelStats()
    items = run(JSONL_FILE, stats=stats)
    assert [n for n, _ in items] == [1, 2, 2]
    assert all(isinstance(i, dict) and validate_traffic_record(i) is None for _, i in items)
    assert stats.documents == 2 and stats.skipped == 1
    # The same spans read from the pretty-printed document give the same records.
    doc = records(run(DOC_FILE))
    for rec in records(items).values():
        assert rec == doc[rec["request_id"]]


def load_doc() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(DOC_FILE.read_text())
    return doc


def test_bad_spans_are_errors_and_neighbours_survive() -> None:
    doc = load_doc()
    spans = doc["resourceSpans"][0]["scopeSpans"][0]["spans"]
    no_start = copy.deepcopy(spans[0])
    del no_start["startTimeUnixNano"]
    bad_msgs = copy.deepcopy(spans[0])
    bad_msgs["spanId"] = "1111111111111111"
    for attr in bad_msgs["attributes"]:
        if attr["key"] == "gen_ai.request.model":
            attr["value"] = {"intValue": "5"}
        if attr["key"] == "gen_ai.response.id":
            attr["value"] = {"stringValue": "chatcmpl-other"}
    spans[:] = [spans[0], no_start, "not a span", bad_msgs]
    doc["resourceSpans"][0]["scopeSpans"][1]["spans"] = []
    stats = OtelStats()
    items = run(DOC_FILE, json.dumps(doc, indent=2).encode(), stats=stats)  # document mode
    by_row: dict[int, Any] = {}
    for n, item in items:
        by_row.setdefault(n, item)
    assert isinstance(by_row[1], dict)
    err = by_row[2]
    assert isinstance(err, InputError)
    assert err.field == "resourceSpans[0].scopeSpans[0].spans[1].startTimeUnixNano"
    assert err.line == 2 and err.path == str(DOC_FILE)
    assert isinstance(by_row[3], InputError)
    assert by_row[3].field == "resourceSpans[0].scopeSpans[0].spans[2]"
    # An integer model is read as its text, so the fourth span still converts.
    assert isinstance(by_row[4], dict) and by_row[4]["request"]["model"] == "5"
    assert stats.errors == 2
    # The second resource's spans still come through after the bad ones.
    assert len([i for _, i in items if isinstance(i, dict)]) == 2 + 4


def test_jsonl_bad_lines_and_other_signals() -> None:
    good = JSONL_FILE.read_text().splitlines()
    lines = [good[0], "{broken", json.dumps({"resourceMetrics": []}), json.dumps({"x": 1}),
             "", good[1]]
    stats = OtelStats()
    items = run(JSONL_FILE, "\n".join(lines).encode(), stats=stats)
    assert [n for n, _ in items] == [1, 2, 4, 6, 6]
    assert isinstance(items[1][1], InputError) and items[1][1].field == "<line>"
    assert isinstance(items[2][1], InputError) and items[2][1].field == "resourceSpans"
    assert stats.non_trace_documents == 1 and stats.bad_documents == 2
    assert stats.spans == stats.records + stats.errors + stats.skipped


def test_unreadable_files_raise() -> None:
    with pytest.raises(InputError):
        run(DOC_FILE, b"\x0a\x0b\x12\x08binary protobuf payload")
    with pytest.raises(InputError):
        run(DOC_FILE, b'{\n  "resourceSpans": [\n')
    assert run(DOC_FILE, b"") == []


def test_structured_attribute_values() -> None:
    """Content recorded as structured OTLP values (not JSON strings) is read too."""
    def kv(key: str, value: dict[str, Any]) -> dict[str, Any]:
        return {"key": key, "value": value}

    def text(value: str) -> dict[str, Any]:
        return {"stringValue": value}

    part = {"kvlistValue": {"values": [kv("type", text("text")), kv("content", text("Hi!"))]}}
    message = {"kvlistValue": {"values": [
        kv("role", text("user")), kv("parts", {"arrayValue": {"values": [part]}})]}}
    span = {"traceId": "a" * 32, "spanId": "b" * 16, "name": "chat m",
            "startTimeUnixNano": 1741944413123456789, "endTimeUnixNano": "1741944413223456789",
            "attributes": [kv("gen_ai.operation.name", text("chat")),
                           kv("gen_ai.input.messages", {"arrayValue": {"values": [message]}}),
                           kv("gen_ai.request.temperature", {"doubleValue": "0.5"}),
                           kv("gen_ai.usage.input_tokens", {"intValue": 3})],
            "status": {"code": "STATUS_CODE_OK"}}
    doc = {"resourceSpans": [{"resource": {"attributes": [kv("service.name", text("svc"))]},
                              "scopeSpans": [{"scope": {}, "spans": [span]}]}]}
    ((_, rec),) = run(DOC_FILE, json.dumps(doc).encode())
    assert isinstance(rec, dict)
    assert rec["ts"] == "2025-03-14T09:26:53.123456Z"
    assert rec["latency_ms"] == pytest.approx(100.0)
    assert rec["request"]["messages"] == [{"role": "user", "content": "Hi!"}]
    assert rec["request"]["temperature"] == 0.5
    assert rec["response"]["usage"]["prompt_tokens"] == 3


# ---------------------------------------------------------------------- property: no vanishing

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
any_values = st.dictionaries(
    st.sampled_from(["stringValue", "intValue", "doubleValue", "boolValue", "arrayValue",
                     "kvlistValue", "bytesValue"]), json_values, max_size=2)
junk_attrs = st.lists(st.fixed_dictionaries({
    "key": st.sampled_from(["gen_ai.operation.name", "gen_ai.request.model",
                            "gen_ai.input.messages", "gen_ai.output.messages",
                            "gen_ai.prompt", "gen_ai.completion", "gen_ai.usage.input_tokens",
                            "gen_ai.response.id", "gen_ai.response.finish_reasons",
                            "gen_ai.system_instructions", "error.type", "enduser.id",
                            "http.response.status_code", "gen_ai.prompt.0.content"]),
    "value": st.one_of(any_values, st.fixed_dictionaries(
        {"stringValue": st.sampled_from(["chat", "embeddings", "text_completion", "[{", "[]",
                                         '[{"role": "user", "parts": 3}]', "{}"])})),
}), max_size=8)
junk_spans = st.one_of(
    json_values,
    st.fixed_dictionaries({
        "traceId": st.one_of(st.text(max_size=8), st.integers()),
        "spanId": st.one_of(st.text(max_size=8), st.none()),
        "startTimeUnixNano": st.one_of(st.integers(), st.text(max_size=25), st.none()),
        "endTimeUnixNano": st.one_of(st.integers(), st.text(max_size=25)),
        "attributes": st.one_of(junk_attrs, json_values),
        "events": st.one_of(json_values, st.lists(st.fixed_dictionaries(
            {"name": st.sampled_from(["gen_ai.user.message", "gen_ai.choice"]),
             "attributes": junk_attrs}), max_size=3)),
        "status": json_values,
    }),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(junk_spans, min_size=1, max_size=5))
def test_junk_spans_never_raise_and_are_all_accounted_for(spans: list[Any]) -> None:
    doc = {"resourceSpans": [{"resource": {"attributes": []},
                              "scopeSpans": [{"scope": {}, "spans": spans}]}]}
    stats = OtelStats()
    items = run(DOC_FILE, json.dumps(doc).encode(), stats=stats)
    for _, item in items:
        assert isinstance(item, (dict, InputError))
        if isinstance(item, dict):
            assert validate_traffic_record(item) is None
            json.dumps(item)
    assert stats.spans == len(spans)
    assert stats.records + stats.errors + stats.skipped == len(spans)
    assert len(items) == stats.records + stats.errors


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(max_size=60).map(lambda b: b.replace(b"\n", b" ")), min_size=1,
                max_size=6))
def test_junk_lines_never_raise_and_never_vanish(lines: list[bytes]) -> None:
    first = JSONL_FILE.read_bytes().splitlines()[0]
    items = run(JSONL_FILE, b"\n".join([first, *lines]))
    numbers = {n for n, _ in items}
    assert 1 in numbers
    for number, line in enumerate(lines, start=2):
        if line.strip():
            assert number in numbers
