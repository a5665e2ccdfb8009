"""OCSF Detection Findings (class 2004, schema 1.8.0) from scan findings and live alerts.

One event per finding of ``findings.jsonl`` (an account or a linked operation) and per alert of
``watch`` or the gateway. What a SIEM indexes goes into OCSF's own attributes: severity, risk,
the account as the acting resource and as an observable, the first and last call, and each
reason code as an anomaly measured against its population baseline (``anomaly_analyses``).
Everything else distillwatch knows (counts, linking evidence, the action taken) rides along in
``unmapped.distillwatch``, so nothing is lost. Prompt and response text never leaves: sample
calls are named by request id and time only, which is what a peer needs to ask for them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from distillwatch import __version__
from distillwatch.ingest import parse_ts

__all__ = ["OCSF_VERSION", "alert_id", "alert_to_ocsf", "finding_to_ocsf"]

OCSF_VERSION = "1.8.0"

_CLASS_UID = 2004  # Detection Finding
_CATEGORY_UID = 2  # Findings
_CREATE = 1
_STATUS_NEW = 1
_SEVERITY = {1: "Informational", 2: "Low", 3: "Medium", 4: "High", 5: "Critical"}
_RISK_LEVEL = {0: "Info", 1: "Low", 2: "Medium", 3: "High", 4: "Critical"}
_CONFIDENCE = {1: "Low", 2: "Medium", 3: "High"}
#: Analytic types (OCSF ``analytic.type_id``): the scan's scorer compares each account with
#: the population's own baselines (statistical); the online detector follows one account's
#: calls as they come (behavioural).
_STATISTICAL, _BEHAVIORAL = 3, 2
_OBSERVABLE_RESOURCE_UID = 10
_RESOURCE_ROLE_ACTOR = 2
_ACCOUNT = "API account"
_TYPE = "Model output harvesting for distillation"

#: Verdicts and actions -> OCSF severity_id and risk_level_id.
_VERDICT_SEVERITY = {"harvesting": 4, "suspicious": 3, "normal": 1}
_VERDICT_RISK_LEVEL = {"harvesting": 3, "suspicious": 2, "normal": 0}
_ACTION_SEVERITY = {"observe": 2, "alert": 3, "throttle": 4, "degrade": 4, "block": 5}
_ACTION_RISK_LEVEL = {"observe": 1, "alert": 2, "throttle": 3, "degrade": 3, "block": 4}


def _ms(ts: str | None) -> int | None:
    """An RFC 3339 time as OCSF's milliseconds since the epoch (None when there is none)."""
    parsed = parse_ts(ts)
    return None if parsed is None else round(parsed.timestamp() * 1000)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _confidence_id(risk: float) -> int:
    return 3 if risk >= 0.9 else 2 if risk >= 0.5 else 1


def _base(uid: str, severity_id: int, time_ms: int, log_name: str) -> dict[str, Any]:
    return {
        "activity_id": _CREATE,
        "activity_name": "Create",
        "category_uid": _CATEGORY_UID,
        "category_name": "Findings",
        "class_uid": _CLASS_UID,
        "class_name": "Detection Finding",
        "type_uid": _CLASS_UID * 100 + _CREATE,
        "type_name": "Detection Finding: Create",
        "severity_id": severity_id,
        "severity": _SEVERITY[severity_id],
        "time": time_ms,
        "status_id": _STATUS_NEW,
        "status": "New",
        "metadata": {
            "version": OCSF_VERSION,
            "product": {"name": "distillwatch", "vendor_name": "distillwatch",
                        "version": __version__},
            "uid": uid,
            "log_name": log_name,
        },
    }


def _risk(event: dict[str, Any], risk: float, level: int) -> None:
    """Risk as OCSF's 0-100 score and level; the calibrated risk is also our confidence."""
    event["risk_score"] = round(100 * risk)
    event["risk_level_id"] = level
    event["risk_level"] = _RISK_LEVEL[level]
    confidence = _confidence_id(risk)
    event["confidence_id"] = confidence
    event["confidence"] = _CONFIDENCE[confidence]


def _accounts(ids: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``resources`` and ``observables`` naming the accounts (the actors of the finding)."""
    resources = [{"uid": a, "type": _ACCOUNT, "role_id": _RESOURCE_ROLE_ACTOR, "role": "Actor"}
                 for a in ids]
    observables = [{"name": "resources.uid", "type_id": _OBSERVABLE_RESOURCE_UID,
                    "type": "Resource UID", "value": a} for a in ids]
    return resources, observables


def _anomalies(target: str, target_type: str, reasons: list[Mapping[str, Any]]
               ) -> list[dict[str, Any]]:
    """Each reason as an anomaly beside its population baseline."""
    return [{
        "analysis_targets": [{"name": target, "type": target_type}],
        "anomalies": [{"observation_parameter": r["code"],
                       "observation_type": r.get("description") or r["code"],
                       "observations": [{"value": _number(r.get("value"))}]}
                      for r in reasons],
        "baselines": [{"observation_parameter": r["code"],
                       "observation_type": "population median",
                       "observations": [{"value": _number(r.get("population_median"))}]}
                      for r in reasons if r.get("population_median") is not None],
    }]


def _number(value: Any) -> str:
    """OCSF observation values are strings; numbers keep their full precision."""
    if value is None:
        return "null"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def finding_to_ocsf(finding: Mapping[str, Any], *, time_ms: int) -> dict[str, Any]:
    """One ``findings.jsonl`` record (account or cluster) as a Detection Finding.

    ``time_ms`` is when the finding was made (the scan's time): OCSF's ``time`` is the
    finding's creation, while the calls it rests on span ``start_time`` to ``end_time``.
    """
    kind = finding["kind"]
    uid = str(finding["finding_id"])
    verdict = str(finding.get("verdict") or "normal")
    risk = float(finding["risk"])
    stats: Mapping[str, Any] = finding.get("stats") or {}
    reasons: list[Mapping[str, Any]] = list(finding.get("reasons") or [])
    if kind == "cluster":
        members = [str(m) for m in finding.get("members") or []]
        target, target_type = str(finding.get("cluster_id") or uid), "Linked accounts"
        title = (f"Operation {target} of {len(members)} linked accounts harvests model outputs"
                 if verdict == "harvesting" else
                 f"Operation {target} of {len(members)} linked accounts may harvest outputs")
    elif kind == "account":
        members = [str(finding["account_id"])]
        target, target_type = members[0], _ACCOUNT
        title = (f"Account {target} harvests model outputs for distillation"
                 if verdict == "harvesting" else f"Account {target} may harvest model outputs")
    else:
        raise ValueError(f"unknown finding kind {kind!r}")
    event = _base(uid, _VERDICT_SEVERITY.get(verdict, 3), time_ms, "findings")
    first, last = _ms(stats.get("first_seen")), _ms(stats.get("last_seen"))
    if first is not None:
        event["start_time"] = first
    if last is not None:
        event["end_time"] = last
    event["is_alert"] = verdict == "harvesting"
    why = "; ".join(str(r.get("description") or r["code"]) for r in reasons)
    event["message"] = f"{title} (risk {risk:.2f})" + (f": {why}" if why else "")
    info: dict[str, Any] = {
        "uid": uid,
        "title": title,
        "desc": why or title,
        "types": [_TYPE],
        "analytic": {"name": "distillwatch scan scorer", "uid": "distillwatch-scan",
                     "type_id": _STATISTICAL, "type": "Statistical"},
        "data_sources": ["API traffic logs"],
    }
    if first is not None:
        info["first_seen_time"] = first
    if last is not None:
        info["last_seen_time"] = last
    if _is_count(stats.get("n_calls")):
        info["related_events_count"] = stats["n_calls"]
    event["finding_info"] = info
    _risk(event, risk, _VERDICT_RISK_LEVEL.get(verdict, 2))
    event["resources"], event["observables"] = _accounts(members)
    if reasons:
        event["anomaly_analyses"] = _anomalies(target, target_type, reasons)
    examples = [{"api": {"operation": "chat.completions", "request": {"uid": e["request_id"]}},
                 "name": "sample call", "data": {"ts": e.get("ts"), "model": e.get("model")}}
                for e in finding.get("examples") or [] if isinstance(e.get("request_id"), str)]
    if examples:
        event["evidences"] = examples
    # everything else as it was, but the sample calls' text
    event["unmapped"] = {"distillwatch": {k: v for k, v in finding.items()
                                          if k not in {"finding_id", "examples"}}}
    return event


def alert_id(alert: Mapping[str, Any]) -> str:
    """A stable id for an alert: the account and the call it was raised at."""
    digest = hashlib.sha256(f"{alert['account_id']}\x1f{alert['request_id']}".encode())
    return "dw-alr-" + digest.hexdigest()[:16]


def alert_to_ocsf(alert: Mapping[str, Any]) -> dict[str, Any]:
    """One alert of ``watch`` or the gateway (``alerts.jsonl``) as a Detection Finding."""
    uid = alert_id(alert)
    account = str(alert["account_id"])
    action = str(alert.get("action") or "alert")
    risk = float(alert["risk"])
    when = _ms(str(alert["ts"])) or 0
    codes = [str(c) for c in alert.get("reasons") or []]
    title = f"Account {account} may be harvesting model outputs (action: {action})"
    event = _base(uid, _ACTION_SEVERITY.get(action, 3), when, "alerts")
    event["is_alert"] = True
    event["message"] = (f"{title} at call {alert['request_id']} (risk {risk:.2f})"
                        + (f": {', '.join(codes)}" if codes else ""))
    event["finding_info"] = {
        "uid": uid,
        "title": title,
        "desc": event["message"],
        "types": [_TYPE],
        "analytic": {"name": "distillwatch online detector", "uid": "distillwatch-watch",
                     "type_id": _BEHAVIORAL, "type": "Behavioral"},
        "data_sources": ["API traffic"],
        "first_seen_time": when,
        "last_seen_time": when,
    }
    if _is_count(alert.get("calls")):
        event["finding_info"]["related_events_count"] = alert["calls"]
    _risk(event, risk, _ACTION_RISK_LEVEL.get(action, 2))
    event["resources"], event["observables"] = _accounts([account])
    event["evidences"] = [{"api": {"operation": "chat.completions",
                                   "request": {"uid": str(alert["request_id"])}},
                           "name": "call the alert was raised at"}]
    event["unmapped"] = {"distillwatch": dict(alert)}
    return event
