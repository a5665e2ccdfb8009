"""LiteLLM spend-log adapter: realistic exports in, valid traffic-log v1 records out."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from pathlib import Path
from typing import Any, BinaryIO, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distillwatch.errors import InputError
from distillwatch.ingest import validate_traffic_record
from distillwatch.ingest._litellm import iter_litellm_spend_logs

DATA = Path(__file__).parent / "data" / "adapters"
CSV_FILE = DATA / "litellm_spend_logs.csv"
JSON_FILE = DATA / "litellm_spend_logs.json"
RAW_CSV_KEY = "sk-LeakedRawKey9xQ2mZ7vT4"
RAW_JSON_KEY = "sk-proj-AnotherRawKeyZZ81"

Item = tuple[int, "dict[str, Any] | InputError"]


def run(path: Path, data: bytes | None = None) -> list[Item]:
    stream = io.BytesIO(data if data is not None else path.read_bytes())
    return list(iter_litellm_spend_logs(path, stream))


def records(items: list[Item]) -> dict[str, dict[str, Any]]:
    return {r["request_id"]: r for _, r in items if isinstance(r, dict)}


def short_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


# ------------------------------------------------------------------------------- CSV export


def test_csv_every_row_converts_and_validates() -> None:
    items = run(CSV_FILE)
    assert [n for n, _ in items] == [2, 3, 4, 5, 6, 7]
    for _, item in items:
        assert isinstance(item, dict), item
        assert validate_traffic_record(item) is None
        json.dumps(item)  # plain JSON values only


def test_csv_mapping_of_a_successful_chat_call() -> None:
    rec = records(run(CSV_FILE))["chatcmpl-BAx7Qm2k9Lr4TzV8nWc1"]
    assert rec["ts"] == "2025-03-14T09:26:53.589Z"
    assert rec["account_id"] == "team-5b1c9e"
    assert rec["key_id"] == short_hash("sk-team-alpha-key-0001")
    assert rec["user"] == "customer-8812"
    assert rec["client_ip"] == "203.0.113.7"
    assert rec["endpoint"] == "/v1/chat/completions"
    assert rec["status"] == 200
    assert rec["latency_ms"] == pytest.approx(1423.0)
    request = rec["request"]
    assert request["model"] == "gpt-4o-mini"
    assert request["temperature"] == 0.7
    assert request["messages"][1]["content"] == [
        {"type": "text", "text": "Explain photosynthesis in one sentence."}
    ]
    choice = rec["response"]["choices"][0]
    assert choice["message"]["content"].startswith("Photosynthesis converts")
    assert rec["response"]["usage"]["prompt_tokens"] == 41
    assert rec["litellm"]["spend"] == pytest.approx(0.00031275)


def test_csv_account_falls_back_to_user_then_key() -> None:
    recs = records(run(CSV_FILE))
    assert recs["chatcmpl-BAx7RtY3pQ0aZc6mKd2"]["account_id"] == "bob@example.org"
    assert "user" not in recs["chatcmpl-BAx7RtY3pQ0aZc6mKd2"]
    raw = recs["cmpl-BAx7TqN1vE5sH8"]
    assert raw["key_id"] == short_hash(RAW_CSV_KEY)
    assert raw["account_id"] == f"apikey:{short_hash(RAW_CSV_KEY)}"


def test_csv_failed_call_has_status_from_error_information_and_null_response() -> None:
    rec = records(run(CSV_FILE))["b7e0c9d2-3f41-4a8e-9d61-0c2b5e7f1a94"]
    assert rec["status"] == 429
    assert rec["response"] is None
    assert rec["request"]["n"] == 4
    assert rec["litellm"]["error"]["error_class"] == "RateLimitError"


def test_raw_secret_keys_never_reach_the_output() -> None:
    for path, secret in ((CSV_FILE, RAW_CSV_KEY), (JSON_FILE, RAW_JSON_KEY)):
        assert secret in path.read_text()
        out = json.dumps([item for _, item in run(path) if isinstance(item, dict)])
        assert secret not in out
        assert "sk-" not in out


def test_csv_endpoints_and_rebuilt_requests() -> None:
    recs = records(run(CSV_FILE))
    text = recs["cmpl-BAx7TqN1vE5sH8"]
    assert text["endpoint"] == "/v1/completions"
    assert text["request"] == {"model": "gpt-3.5-turbo-instruct",
                               "prompt": "Write a haiku about rain"}
    emb = recs["4e9b1c7a-2d5f-4b8e-a0c3-6f1e2d9b7c05"]
    assert emb["endpoint"] == "/v1/embeddings"
    assert emb["response"]["usage"] == {"prompt_tokens": 20, "completion_tokens": 0,
                                        "total_tokens": 20}
    assert "choices" not in emb["response"]
    resp = recs["resp_67d3f1a2b8c4819197e5d0a1"]
    assert resp["endpoint"] == "/v1/responses"
    assert resp["response"]["usage"]["prompt_tokens"] == 19
    assert resp["response"]["usage"]["completion_tokens"] == 42


def test_gzip_stream_and_bom_are_read() -> None:
    data = b"\xef\xbb\xbf" + CSV_FILE.read_bytes()
    with gzip.GzipFile(fileobj=io.BytesIO(gzip.compress(data)), mode="rb") as stream:
        items = list(iter_litellm_spend_logs(CSV_FILE, cast(BinaryIO, stream)))
    assert len(items) == 6
    assert all(isinstance(item, dict) for _, item in items)


# ------------------------------------------------------------------------------ JSON export


def test_json_array_export() -> None:
    items = run(JSON_FILE)
    assert [n for n, _ in items] == [1, 2, 3, 4]
    assert all(isinstance(i, dict) and validate_traffic_record(i) is None for _, i in items)
    recs = records(items)
    first = recs["chatcmpl-BAy0aB1cD2eF3gH4iJ5"]
    assert first["ts"] == "2025-03-15T14:02:11.318Z"
    assert first["account_id"] == "team-gamma"
    assert first["client_ip"] == "2001:db8::17"
    # No proxy_server_request body: the request is rebuilt from model_group + messages.
    assert first["request"]["model"] == "claude-sonnet"
    assert first["request"]["messages"][0]["content"][1]["text"] == "If 3x + 5 = 20, what is x?"
    assert first["latency_ms"] == pytest.approx(6584.0)
    failed = recs["0f3e2d1c-aaaa-4bbb-8ccc-123456789abc"]
    assert failed["status"] == 500 and failed["response"] is None
    raw = recs["chatcmpl-BAy0kL6mN7oP8qR9"]
    assert raw["key_id"] == short_hash(RAW_JSON_KEY)
    assert raw["user"] == "anon-55"
    assert "api_key" not in raw["request"]
    bare = recs["chatcmpl-BAy0zZ"]
    assert bare["request"] == {"model": "gpt-4o-mini"}
    assert bare["response"]["usage"]["completion_tokens"] == 20


def test_json_lines_and_data_wrapper_and_one_line_array() -> None:
    rows = json.loads(JSON_FILE.read_text())
    jsonl = "\n".join(json.dumps(r) for r in rows).encode()
    assert [n for n, _ in run(JSON_FILE, jsonl)] == [1, 2, 3, 4]
    wrapped = json.dumps({"data": rows, "total": 4, "page": 1}, indent=2).encode()
    assert len(records(run(JSON_FILE, wrapped))) == 4
    one_line = json.dumps(rows).encode()
    assert [n for n, _ in run(JSON_FILE, one_line)] == [1, 2, 3, 4]


# ------------------------------------------------------------------------------- bad rows


def good_row(request_id: str) -> dict[str, Any]:
    rows = json.loads(JSON_FILE.read_text())
    row: dict[str, Any] = rows[0]
    row["request_id"] = request_id
    return row


def test_bad_jsonl_rows_are_errors_and_neighbours_survive() -> None:
    lines = [
        json.dumps(good_row("ok-1")),
        json.dumps({**good_row("bad-ts"), "startTime": "yesterday"}),
        "{not json",
        json.dumps({**good_row("no-call"), "call_type": ""}),
        "",
        json.dumps([1, 2]),
        json.dumps({**good_row("bad-tokens"), "prompt_tokens": "many"}),
        json.dumps({**good_row("bad-msgs"), "messages": [{"role": "user", "content": 5}]}),
        json.dumps({**good_row("nobody"), "team_id": None, "user": "", "api_key": "",
                    "metadata": {}}),
        json.dumps(good_row("ok-2")),
    ]
    items = run(JSON_FILE, "\n".join(lines).encode())
    by_line = {n: item for n, item in items}
    assert sorted(by_line) == [1, 2, 3, 4, 6, 7, 8, 9, 10]
    assert isinstance(by_line[1], dict) and isinstance(by_line[10], dict)
    expected_fields = {2: "startTime", 3: "<line>", 4: "call_type", 6: "<record>",
                       7: "prompt_tokens", 8: "request.messages[0].content", 9: "team_id"}
    for line, field in expected_fields.items():
        err = by_line[line]
        assert isinstance(err, InputError), (line, err)
        assert err.line == line and err.field == field and err.path == str(JSON_FILE)


def test_bad_csv_rows_are_errors_and_neighbours_survive() -> None:
    with CSV_FILE.open(newline="") as f:
        reader = csv.DictReader(f)
        header = list(reader.fieldnames or [])
        rows = list(reader)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerow([rows[0][c] for c in header])                       # line 2
    writer.writerow(["junk", "row"])                                    # line 3
    broken = dict(rows[1], response='{"choices": [')
    writer.writerow([broken[c] for c in header])                        # line 4
    badtime = dict(rows[1], startTime="14/03/2025")
    writer.writerow([badtime[c] for c in header])                       # line 5
    writer.writerow([rows[2][c] for c in header])                       # line 6
    items = run(CSV_FILE, out.getvalue().encode())
    by_line = dict(items)
    assert sorted(by_line) == [2, 3, 4, 5, 6]
    assert isinstance(by_line[2], dict) and isinstance(by_line[6], dict)
    assert isinstance(by_line[3], InputError) and by_line[3].field == "<row>"
    assert isinstance(by_line[4], InputError) and by_line[4].field == "response"
    assert isinstance(by_line[5], InputError) and by_line[5].field == "startTime"


def test_unreadable_files_raise() -> None:
    with pytest.raises(InputError):
        run(CSV_FILE, b"PK\x03\x04 this is a zip file, not a spend-log export\n")
    with pytest.raises(InputError):
        run(JSON_FILE, b'[{"request_id": "x", ')
    with pytest.raises(InputError):
        run(CSV_FILE, b"a,b,c\n1,2,3\n")
    assert run(CSV_FILE, b"") == []
    assert run(CSV_FILE, b"  \n\n") == []


def test_timestamps_in_other_spellings() -> None:
    row = good_row("t")
    for value, expected in (
        ("2025-03-15 14:02:11.318+00", "2025-03-15T14:02:11.318Z"),
        ("2025-03-15T16:02:11.318+02:00", "2025-03-15T14:02:11.318Z"),
        ("2025-03-15 14:02:11", "2025-03-15T14:02:11.000Z"),
        (1742047331.318, "2025-03-15T14:02:11.318Z"),
    ):
        row["startTime"], row["endTime"] = value, None
        ((_, rec),) = run(JSON_FILE, json.dumps(row).encode())
        assert isinstance(rec, dict) and rec["ts"] == expected and "latency_ms" not in rec


# ---------------------------------------------------------------------- property: no vanishing

junk_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
junk_rows = st.dictionaries(
    st.sampled_from(["request_id", "call_type", "api_key", "startTime", "endTime", "team_id",
                     "user", "metadata", "messages", "response", "proxy_server_request",
                     "status", "prompt_tokens", "end_user", "model"]),
    junk_values, max_size=10,
)


@settings(max_examples=150, deadline=None)
@given(st.lists(junk_rows | junk_values, min_size=1, max_size=6))
def test_junk_json_rows_never_raise_and_never_vanish(rows: list[Any]) -> None:
    document = [good_row("anchor"), *rows]
    data = json.dumps(document, allow_nan=True).encode()
    items = run(JSON_FILE, data)
    assert [n for n, _ in items] == list(range(1, len(document) + 1))
    for _, item in items:
        assert isinstance(item, (dict, InputError))
        if isinstance(item, dict):
            assert validate_traffic_record(item) is None
            json.dumps(item)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(max_size=60).map(lambda b: b.replace(b"\n", b" ")), min_size=1,
                max_size=6))
def test_junk_jsonl_lines_never_raise_and_never_vanish(lines: list[bytes]) -> None:
    data = b"\n".join([json.dumps(good_row("anchor")).encode(), *lines]) + b"\n"
    items = run(JSON_FILE, data)
    numbers = [n for n, _ in items]
    expected = [1] + [i for i, line in enumerate(lines, start=2) if line.strip()]
    assert numbers == expected


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.text(max_size=15), min_size=1, max_size=40), min_size=1,
                max_size=5))
def test_junk_csv_rows_never_raise_and_never_vanish(rows: list[list[str]]) -> None:
    header = CSV_FILE.read_text().splitlines()[0]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        writer.writerow(row)
    data = (header + "\n" + out.getvalue()).encode("utf-8", errors="surrogatepass")
    items = run(CSV_FILE, data)
    for _, item in items:
        assert isinstance(item, (dict, InputError))
    reread = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    non_blank = [r for r in reread if r and not (len(r) == 1 and not r[0].strip())]
    assert len(items) == len(non_blank)
