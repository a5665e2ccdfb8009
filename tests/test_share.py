"""Export: OCSF 1.8.0 events and OTLP/JSON log records, golden files, bad lines reported."""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distillwatch.cli import main
from distillwatch.errors import InputError
from distillwatch.ingest import ReadStats
from distillwatch.share import (
    alert_id,
    alert_to_log_record,
    any_value,
    export,
    finding_to_log_record,
    finding_to_ocsf,
    logs_request,
    ocsf_events,
    otlp_records,
)

GOLDEN = Path(__file__).parent / "golden" / "ocsf.jsonl"
GOLDEN_OTLP = Path(__file__).parent / "golden" / "otlp.jsonl"
TIME_MS = 1_790_000_000_000

ACCOUNT_FINDING: dict[str, Any] = {
    "finding_id": "dw-acc-0001", "kind": "account", "account_id": "acct_a", "cluster_id": None,
    "risk": 0.97, "verdict": "harvesting",
    "reasons": [{"code": "OUTPUT_HEAVY", "description": "output tokens per input token: 158x "
                 "(population median 3x)", "value": 158.0, "population_median": 3.05,
                 "contribution": 3.0}],
    "stats": {"n_calls": 420, "first_seen": "2026-09-01T00:01:38.880000Z",
              "last_seen": "2026-09-28T15:46:05.146000Z"},
    "timeline": [{"day": "2026-09-01", "calls": 16}],
    "examples": [{"request_id": "req_1", "ts": "2026-09-25T08:45:57.768000Z",
                  "model": "nova-r2", "system": "SECRET SYSTEM PROMPT",
                  "prompt": "SECRET USER PROMPT", "response": "SECRET ANSWER"}],
}
CLUSTER_FINDING: dict[str, Any] = {
    "finding_id": "dw-clu-0002", "kind": "cluster", "cluster_id": "ring-1", "risk": 0.6,
    "verdict": "suspicious", "members": ["acct_b", "acct_c"],
    "edges_by_kind": {"template": 1}, "reasons": [],
    "stats": {"n_calls": 30, "members": 2},
}
ALERT: dict[str, Any] = {
    "ts": "2026-09-01T01:49:52.897000Z", "account_id": "acct_a", "request_id": "req_9",
    "risk": 0.51, "action": "throttle", "reasons": ["OUTPUT_HEAVY"], "calls": 19,
    "output_tokens": 74307,
}

# OCSF 1.8.0, transcribed for the objects the export writes: (required, allowed) attributes.
_OBJECTS: dict[str, tuple[set[str], set[str]]] = {
    "event": ({"activity_id", "category_uid", "class_uid", "severity_id", "time", "type_uid",
               "metadata", "finding_info"},
              {"activity_id", "activity_name", "category_uid", "category_name", "class_uid",
               "class_name", "type_uid", "type_name", "severity_id", "severity", "time",
               "start_time", "end_time", "status_id", "status", "metadata", "finding_info",
               "message", "is_alert", "risk_score", "risk_level_id", "risk_level",
               "confidence_score", "confidence_id", "confidence", "resources", "observables",
               "anomaly_analyses", "evidences", "unmapped"}),
    "metadata": ({"version", "product"}, {"version", "product", "uid", "log_name"}),
    "product": (set(), {"name", "vendor_name", "version"}),
    "finding_info": ({"uid"}, {"uid", "title", "desc", "types", "analytic", "data_sources",
                               "first_seen_time", "last_seen_time", "related_events_count"}),
    "analytic": ({"type_id"}, {"name", "uid", "type_id", "type"}),
    "resource": (set(), {"uid", "type", "role_id", "role"}),
    "observable": ({"type_id"}, {"name", "type_id", "type", "value"}),
    "anomaly_analysis": ({"analysis_targets", "anomalies"},
                         {"analysis_targets", "anomalies", "baselines"}),
    "analysis_target": ({"name"}, {"name", "type"}),
    "anomaly": ({"observation_parameter", "observations"},
                {"observation_parameter", "observation_type", "observations"}),
    "observation": ({"value"}, {"value"}),
    "evidence": (set(), {"api", "name", "data"}),
    "api": ({"operation"}, {"operation", "request"}),
    "request": ({"uid"}, {"uid"}),
}


def _object(kind: str, value: dict[str, Any]) -> None:
    required, allowed = _OBJECTS[kind]
    assert required <= value.keys(), (kind, required - value.keys())
    assert value.keys() <= allowed, (kind, value.keys() - allowed)


def assert_ocsf_detection_finding(event: dict[str, Any]) -> None:
    """The attributes, nesting, enums and types OCSF 1.8.0 gives a Detection Finding."""
    _object("event", event)
    assert (event["class_uid"], event["category_uid"]) == (2004, 2)
    assert event["type_uid"] == event["class_uid"] * 100 + event["activity_id"]
    assert event["severity_id"] in {0, 1, 2, 3, 4, 5, 6, 99}
    assert event.get("risk_level_id", 0) in {0, 1, 2, 3, 4, 99}
    assert event.get("confidence_id", 0) in {0, 1, 2, 3, 99}
    assert event.get("status_id", 1) in {0, 1, 2, 3, 4, 5, 6, 99}
    for name in ("time", "start_time", "end_time", "risk_score", "confidence_score"):
        if name in event:
            assert isinstance(event[name], int) and not isinstance(event[name], bool), name
    assert 0 <= event.get("risk_score", 0) <= 100
    _object("metadata", event["metadata"])
    assert event["metadata"]["version"] == "1.8.0"
    _object("product", event["metadata"]["product"])
    info = event["finding_info"]
    _object("finding_info", info)
    _object("analytic", info["analytic"])
    assert all(isinstance(t, str) for t in info.get("types", []))
    for resource in event.get("resources", []):
        _object("resource", resource)
        assert resource.keys() & {"uid", "name"}  # an entity names itself somehow
    for observable in event.get("observables", []):
        _object("observable", observable)
    for analysis in event.get("anomaly_analyses", []):
        _object("anomaly_analysis", analysis)
        for target in analysis["analysis_targets"]:
            _object("analysis_target", target)
        for item in analysis["anomalies"] + analysis.get("baselines", []):
            _object("anomaly", item)
            for observation in item["observations"]:
                _object("observation", observation)
                assert isinstance(observation["value"], str)
    for evidence in event.get("evidences", []):
        _object("evidence", evidence)
        _object("api", evidence["api"])
        _object("request", evidence["api"]["request"])
    assert isinstance(event.get("unmapped", {}), dict)


@pytest.mark.parametrize("record", [ACCOUNT_FINDING, CLUSTER_FINDING, ALERT],
                         ids=["account", "cluster", "alert"])
def test_every_kind_of_record_becomes_a_conforming_detection_finding(
        tmp_path: Path, record: dict[str, Any]) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(orjson.dumps(record) + b"\n")
    stats = ReadStats()
    (event,) = list(ocsf_events([str(path)], time_ms=TIME_MS, stats=stats))
    assert_ocsf_detection_finding(event)
    assert stats.good == 1 and stats.bad == 0


def test_account_finding_maps_risk_reasons_times_and_the_account() -> None:
    event = finding_to_ocsf(ACCOUNT_FINDING, time_ms=TIME_MS)
    assert event["severity_id"] == 4 and event["is_alert"] is True
    assert event["risk_score"] == 97 and event["risk_level_id"] == 3
    assert event["time"] == TIME_MS
    assert event["start_time"] == 1788220898880  # 2026-09-01T00:01:38.880Z
    assert event["finding_info"]["related_events_count"] == 420
    assert event["resources"][0]["uid"] == "acct_a"
    assert event["observables"][0]["value"] == "acct_a"
    (analysis,) = event["anomaly_analyses"]
    assert analysis["anomalies"][0]["observation_parameter"] == "OUTPUT_HEAVY"
    assert analysis["anomalies"][0]["observations"] == [{"value": "158"}]
    assert analysis["baselines"][0]["observations"] == [{"value": "3.05"}]
    assert event["evidences"][0]["api"]["request"]["uid"] == "req_1"
    assert event["unmapped"]["distillwatch"]["reasons"][0]["contribution"] == 3.0


def test_suspicious_operation_is_not_an_alert_and_names_every_member() -> None:
    event = finding_to_ocsf(CLUSTER_FINDING, time_ms=TIME_MS)
    assert event["severity_id"] == 3 and event["is_alert"] is False
    assert [r["uid"] for r in event["resources"]] == ["acct_b", "acct_c"]
    assert "anomaly_analyses" not in event  # no reason codes, nothing to compare


def test_alert_keeps_its_own_time_and_action_and_a_stable_id() -> None:
    from distillwatch.share import alert_to_ocsf

    event = alert_to_ocsf(ALERT)
    assert event["time"] == 1788227392897
    assert event["severity_id"] == 4  # throttle
    assert event["finding_info"]["uid"] == alert_id(ALERT) == alert_id(dict(ALERT))
    assert alert_id({**ALERT, "request_id": "req_10"}) != alert_id(ALERT)
    assert event["unmapped"]["distillwatch"]["action"] == "throttle"


def test_no_prompt_or_response_text_is_exported(tmp_path: Path) -> None:
    path = tmp_path / "findings.jsonl"
    path.write_bytes(orjson.dumps(ACCOUNT_FINDING) + b"\n")
    out = tmp_path / "out.jsonl"
    with out.open("wb") as stream:
        export([str(path)], stream, to="ocsf", time_ms=TIME_MS, stats=ReadStats())
    with (tmp_path / "out.otlp.jsonl").open("wb") as stream:
        export([str(path)], stream, to="otlp", time_ms=TIME_MS, stats=ReadStats())
    assert b"SECRET" not in out.read_bytes()
    assert b"SECRET" not in (tmp_path / "out.otlp.jsonl").read_bytes()
    assert b"req_1" in (tmp_path / "out.otlp.jsonl").read_bytes()


def _inputs(tmp_path: Path) -> list[str]:
    findings = tmp_path / "findings.jsonl.gz"
    with gzip.open(findings, "wb") as f:
        f.write(orjson.dumps(CLUSTER_FINDING) + b"\n" + orjson.dumps(ACCOUNT_FINDING) + b"\n")
    alerts = tmp_path / "alerts.jsonl"
    alerts.write_bytes(orjson.dumps(ALERT) + b"\n")
    return [str(findings), str(alerts)]


def _export_cli(tmp_path: Path, to: str, golden: Path) -> bytes:
    out = tmp_path / f"out.{to}.jsonl"
    main(["export", *_inputs(tmp_path), "--to", to, "--out", str(out),
          "--time", "2026-09-21T14:13:20", "-q"])
    if os.environ.get("DISTILLWATCH_UPDATE_GOLDEN"):
        golden.write_bytes(out.read_bytes())
    assert out.read_bytes() == golden.read_bytes()
    return out.read_bytes()


def test_export_matches_the_golden_file(tmp_path: Path) -> None:
    out = tmp_path / "ocsf.jsonl"
    out.write_bytes(_export_cli(tmp_path, "ocsf", GOLDEN))
    events = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert [e["finding_info"]["uid"] for e in events] == [
        "dw-clu-0002", "dw-acc-0001", alert_id(ALERT)]
    assert events[0]["time"] == TIME_MS


def test_bad_lines_are_reported_with_file_line_and_field_and_the_rest_exported(
        tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    lines = [orjson.dumps(ACCOUNT_FINDING), b"{not json", orjson.dumps({**ALERT, "risk": 7}),
             b"", orjson.dumps({"hello": 1}), orjson.dumps({**ACCOUNT_FINDING, "kind": "x"}),
             orjson.dumps(ALERT)]
    path.write_bytes(b"\n".join(lines) + b"\n")
    stats = ReadStats()
    events = list(ocsf_events([str(path)], time_ms=TIME_MS, stats=stats))
    assert len(events) == 2 and stats.good == 2 and stats.bad == 4 and stats.rows == 6
    where = [(b.line, b.field) for b in stats.bad_examples]
    assert where == [(2, "(line)"), (3, "risk"), (5, "finding_id"), (6, "kind")]
    with pytest.raises(InputError, match=r"mixed.jsonl:2: .*\(field '\(line\)'\)"):
        list(ocsf_events([str(path)], time_ms=TIME_MS, stats=ReadStats(), strict=True))


_JSON = st.recursive(st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
                     | st.floats(allow_nan=False)
                     | st.text(max_size=8),
                     lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=6)


@settings(max_examples=150, deadline=None)
@given(base=st.sampled_from([ACCOUNT_FINDING, CLUSTER_FINDING, ALERT]),
       key=st.sampled_from(["finding_id", "kind", "risk", "account_id", "members", "stats",
                            "reasons", "ts", "request_id", "action", "verdict", "calls",
                            "cluster_id", "examples", "output_tokens"]),
       value=_JSON)
def test_any_mangled_record_is_exported_in_both_formats_or_reported_never_crashes(
        tmp_path_factory: pytest.TempPathFactory, base: dict[str, Any], key: str,
        value: Any) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "in.jsonl"
    path.write_bytes(orjson.dumps({**base, key: value}) + b"\n" + orjson.dumps(ALERT) + b"\n")
    stats = ReadStats()
    events = list(ocsf_events([str(path)], time_ms=TIME_MS, stats=stats))
    assert stats.good + stats.bad == 2 and len(events) == stats.good >= 1
    for event in events:
        assert_ocsf_detection_finding(event)
    for bad in stats.bad_examples:
        assert bad.line == 1 and bad.field
    otlp_stats = ReadStats()
    records = list(otlp_records([str(path)], time_ms=TIME_MS, stats=otlp_stats))
    assert (otlp_stats.good, otlp_stats.bad) == (stats.good, stats.bad)
    assert_otlp_logs_request(logs_request(records))


def test_cli_fails_clearly_when_no_line_is_a_finding_or_an_alert(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "accounts.csv"
    path.write_text("account_id,risk\nacct_a,0.5\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["export", str(path), "-q"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "no finding or alert in the inputs (2 bad lines" in err
    assert "accounts.csv:1: (line): not JSON" in err


def _flat(attributes: list[dict[str, Any]]) -> dict[str, Any]:
    """OTLP KeyValues -> {key: the one value field}; checks the AnyValue shape on the way."""
    out: dict[str, Any] = {}
    for kv in attributes:
        assert set(kv) == {"key", "value"} and isinstance(kv["key"], str)
        (kind, value), = kv["value"].items()
        assert kind in {"stringValue", "boolValue", "intValue", "doubleValue", "arrayValue",
                        "kvlistValue"}
        if kind == "intValue":
            assert isinstance(value, str) and int(value) == int(value)
        out[kv["key"]] = value
    return out


def assert_otlp_logs_request(request: dict[str, Any]) -> list[dict[str, Any]]:
    """The shape of an OTLP/JSON ExportLogsServiceRequest; returns its log records."""
    (resource_logs,) = request["resourceLogs"]
    assert _flat(resource_logs["resource"]["attributes"])["service.name"] == "distillwatch"
    (scope_logs,) = resource_logs["scopeLogs"]
    assert scope_logs["scope"]["name"] == "distillwatch.share"
    records: list[dict[str, Any]] = scope_logs["logRecords"]
    for record in records:
        assert set(record) == {"timeUnixNano", "observedTimeUnixNano", "severityNumber",
                               "severityText", "eventName", "body", "attributes"}
        assert isinstance(record["timeUnixNano"], str) and int(record["timeUnixNano"]) > 0
        assert 1 <= record["severityNumber"] <= 24
        assert record["eventName"] in {"distillwatch.finding", "distillwatch.alert"}
        _flat(record["attributes"])
        _flat(record["body"]["kvlistValue"]["values"])
    return records


def test_otlp_export_matches_the_golden_file_and_the_logs_request_shape(
        tmp_path: Path) -> None:
    lines = _export_cli(tmp_path, "otlp", GOLDEN_OTLP).splitlines()
    (request,) = [orjson.loads(line) for line in lines]
    records = assert_otlp_logs_request(request)
    assert [r["eventName"] for r in records] == ["distillwatch.finding"] * 2 + [
        "distillwatch.alert"]
    assert records[0]["timeUnixNano"] == str(TIME_MS * 1_000_000)
    cluster, account, alert = (_flat(r["attributes"]) for r in records)
    assert cluster["distillwatch.cluster.members"] == {
        "values": [{"stringValue": "acct_b"}, {"stringValue": "acct_c"}]}
    assert "distillwatch.account.id" not in cluster
    assert account["distillwatch.account.id"] == "acct_a"
    assert account["distillwatch.risk"] == 0.97 and account["distillwatch.calls"] == "420"
    assert alert["distillwatch.alert.id"] == alert_id(ALERT)
    assert alert["distillwatch.action"] == "throttle"
    assert records[2]["timeUnixNano"] == "1788227392897000000"
    assert records[2]["severityText"] == "ERROR"  # throttle


def test_otlp_batches_records_into_requests_of_the_given_size(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    path.write_bytes(b"".join(orjson.dumps({**ALERT, "request_id": f"req_{i}"}) + b"\n"
                              for i in range(5)))
    out = tmp_path / "out.jsonl"
    with out.open("wb") as stream:
        written = export([str(path)], stream, to="otlp", time_ms=TIME_MS, stats=ReadStats(),
                         batch=2)
    requests = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert written == 5
    assert [len(assert_otlp_logs_request(r)) for r in requests] == [2, 2, 1]


def test_any_value_keeps_types_and_int64_strings() -> None:
    assert any_value(True) == {"boolValue": True}
    assert any_value(7) == {"intValue": "7"}
    assert any_value(2**70) == {"stringValue": str(2**70)}
    assert any_value(0.5) == {"doubleValue": 0.5}
    assert any_value(float("inf")) == {"stringValue": "inf"}
    assert any_value(["a", 1]) == {"arrayValue": {"values": [{"stringValue": "a"},
                                                             {"intValue": "1"}]}}
    assert any_value({"k": None, "j": "x"}) == {
        "kvlistValue": {"values": [{"key": "j", "value": {"stringValue": "x"}}]}}


def test_log_record_helpers_agree_with_the_reader() -> None:
    assert finding_to_log_record(ACCOUNT_FINDING, time_ms=TIME_MS)["severityText"] == "ERROR"
    assert finding_to_log_record(CLUSTER_FINDING, time_ms=TIME_MS)["severityText"] == "WARN"
    assert alert_to_log_record({**ALERT, "action": "block"})["severityNumber"] == 19
