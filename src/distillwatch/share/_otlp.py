"""OpenTelemetry log records (OTLP/JSON) from scan findings and live alerts.

For a backend that takes OpenTelemetry rather than OCSF. Each finding or alert becomes one log
record with an ``eventName`` (``distillwatch.finding`` or ``distillwatch.alert``), a severity,
flat attributes a backend can index and filter on (account, risk, verdict or action, reason
codes, ``security_rule.*`` naming the detector), and the whole record as a structured body.
As in the OCSF export, prompt and response text never leaves: sample calls keep only their
request id, time and model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from distillwatch import __version__
from distillwatch.ingest import parse_ts
from distillwatch.share._ocsf import alert_id

__all__ = ["OTLP_BATCH", "alert_to_log_record", "any_value", "finding_to_log_record",
           "logs_request"]

#: Log records per OTLP request (one request per output line).
OTLP_BATCH = 1000

_INT64 = (-(2**63), 2**63 - 1)
#: OpenTelemetry severity numbers (logs data model): INFO 9, WARN 13, ERROR 17, ERROR3 19.
_SEVERITY: dict[str, tuple[int, str]] = {
    "harvesting": (17, "ERROR"), "suspicious": (13, "WARN"), "normal": (9, "INFO"),
    "observe": (9, "INFO"), "alert": (13, "WARN"), "throttle": (17, "ERROR"),
    "degrade": (17, "ERROR"), "block": (19, "ERROR3"),
}
_CATEGORY = "model output harvesting for distillation"


def any_value(value: Any) -> dict[str, Any]:
    """A Python value as an OTLP/JSON ``AnyValue`` (64-bit integers as decimal strings)."""
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        if _INT64[0] <= value <= _INT64[1]:
            return {"intValue": str(value)}
        return {"stringValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value} if math.isfinite(value) else {"stringValue": str(value)}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, Mapping):
        return {"kvlistValue": {"values": _attributes(value)}}
    if isinstance(value, Sequence):
        return {"arrayValue": {"values": [any_value(v) for v in value]}}
    return {"stringValue": str(value)}


def _attributes(values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``KeyValue`` list of the non-null values, in the given order."""
    return [{"key": str(k), "value": any_value(v)} for k, v in values.items() if v is not None]


def _nanos(ts: str) -> str:
    parsed = parse_ts(ts)
    return str(round(parsed.timestamp() * 1_000_000) * 1000) if parsed else "0"


def _record(event: str, severity_key: str, time_nanos: str, body: str,
            attributes: Mapping[str, Any], detail: Mapping[str, Any]) -> dict[str, Any]:
    number, text = _SEVERITY.get(severity_key, (13, "WARN"))
    return {
        "timeUnixNano": time_nanos,
        "observedTimeUnixNano": time_nanos,
        "severityNumber": number,
        "severityText": text,
        "eventName": event,
        "body": {"kvlistValue": {"values": [
            {"key": "message", "value": {"stringValue": body}},
            {"key": "detail", "value": any_value(detail)},
        ]}},
        "attributes": _attributes(attributes),
    }


def finding_to_log_record(finding: Mapping[str, Any], *, time_ms: int) -> dict[str, Any]:
    """One ``findings.jsonl`` record as a log record stamped when the scan made it."""
    stats: Mapping[str, Any] = finding.get("stats") or {}
    reasons = [r for r in finding.get("reasons") or [] if isinstance(r, Mapping)]
    verdict = str(finding.get("verdict") or "normal")
    cluster = finding["kind"] == "cluster"
    who = (f"operation {finding.get('cluster_id')} of {len(finding.get('members') or [])} "
           "linked accounts" if cluster else f"account {finding.get('account_id')}")
    codes = [str(r["code"]) for r in reasons]
    body = f"{who}: {verdict} (risk {float(finding['risk']):.2f})" + (
        f": {', '.join(codes)}" if codes else "")
    examples = [{k: e.get(k) for k in ("request_id", "ts", "model")}
                for e in finding.get("examples") or [] if isinstance(e, Mapping)]
    detail = {k: v for k, v in finding.items() if k != "examples"}
    if examples:
        detail["examples"] = examples
    attributes = {
        "distillwatch.finding.id": finding["finding_id"],
        "distillwatch.finding.kind": finding["kind"],
        "distillwatch.account.id": None if cluster else finding.get("account_id"),
        "distillwatch.cluster.id": finding.get("cluster_id"),
        "distillwatch.cluster.members": finding.get("members") if cluster else None,
        "distillwatch.risk": float(finding["risk"]),
        "distillwatch.verdict": verdict,
        "distillwatch.reason_codes": codes,
        "distillwatch.calls": stats.get("n_calls"),
        "distillwatch.first_seen": stats.get("first_seen"),
        "distillwatch.last_seen": stats.get("last_seen"),
        "security_rule.name": "distillwatch scan scorer",
        "security_rule.category": _CATEGORY,
        "security_rule.version": __version__,
    }
    return _record("distillwatch.finding", verdict, str(time_ms * 1_000_000), body, attributes,
                   detail)


def alert_to_log_record(alert: Mapping[str, Any]) -> dict[str, Any]:
    """One alert of ``watch`` or the gateway as a log record at the call it was raised at."""
    action = str(alert.get("action") or "alert")
    codes = [str(c) for c in alert.get("reasons") or []]
    body = (f"account {alert['account_id']}: {action} at call {alert['request_id']} "
            f"(risk {float(alert['risk']):.2f})" + (f": {', '.join(codes)}" if codes else ""))
    attributes = {
        "distillwatch.alert.id": alert_id(alert),
        "distillwatch.account.id": alert["account_id"],
        "distillwatch.request.id": alert["request_id"],
        "distillwatch.risk": float(alert["risk"]),
        "distillwatch.action": action,
        "distillwatch.reason_codes": codes,
        "distillwatch.calls": alert.get("calls"),
        "distillwatch.output_tokens": alert.get("output_tokens"),
        "security_rule.name": "distillwatch online detector",
        "security_rule.category": _CATEGORY,
        "security_rule.version": __version__,
    }
    return _record("distillwatch.alert", action, _nanos(str(alert["ts"])), body, attributes,
                   dict(alert))


def logs_request(records: list[dict[str, Any]]) -> dict[str, Any]:
    """An OTLP ``ExportLogsServiceRequest`` (JSON) holding the log records."""
    return {"resourceLogs": [{
        "resource": {"attributes": _attributes({"service.name": "distillwatch",
                                                "service.version": __version__})},
        "scopeLogs": [{"scope": {"name": "distillwatch.share", "version": __version__},
                       "logRecords": records}],
    }]}
