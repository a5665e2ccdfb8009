"""Read scan findings and live alerts, write them as OCSF events or OpenTelemetry logs.

Each input line is one ``findings.jsonl`` record (it has ``finding_id``) or one alert of
``watch`` or the gateway (it has ``action``); files may mix both, be gzip- or zstd-compressed,
or be ``-`` for stdin. A line that is neither, or misses a field the event needs, is counted
and reported with its file, line and field, and the lines around it are still exported.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import IO, Any

import orjson

from distillwatch.errors import InputError
from distillwatch.ingest import BadLine, ReadStats, expand_inputs, open_input, parse_ts
from distillwatch.share._ocsf import alert_to_ocsf, finding_to_ocsf
from distillwatch.share._otlp import (
    OTLP_BATCH,
    alert_to_log_record,
    finding_to_log_record,
    logs_request,
)

__all__ = ["FORMATS", "export", "ocsf_events", "otlp_records", "read_records"]


def _need(record: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = record.get(name)
    if value is None or isinstance(value, bool) or not isinstance(value, kind):
        raise _Bad(name, f"missing or not {_kind_name(kind)}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", list: "a list", dict: "an object", int: "a number",
             float: "a number"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(dict.fromkeys(names.get(k, k.__name__) for k in kinds))


class _Bad(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _risk(record: Mapping[str, Any]) -> None:
    risk = _need(record, "risk", (int, float))
    if not (math.isfinite(risk) and 0.0 <= risk <= 1.0):
        raise _Bad("risk", f"{risk!r} is not in [0, 1]")


def _time(record: Mapping[str, Any], name: str, *, required: bool) -> None:
    value = record.get(name)
    if value is None and not required:
        return
    if not isinstance(value, str):
        raise _Bad(name, "missing or not an RFC 3339 time")
    if parse_ts(value) is None:
        raise _Bad(name, f"{value!r} is not an RFC 3339 time with Z or an offset")


def _check_finding(record: Mapping[str, Any]) -> None:
    _need(record, "finding_id", str)
    kind = _need(record, "kind", str)
    _risk(record)
    if kind == "account":
        _need(record, "account_id", str)
    elif kind == "cluster":
        members = _need(record, "members", list)
        if not members or not all(isinstance(m, str) for m in members):
            raise _Bad("members", "not a non-empty list of account ids")
    else:
        raise _Bad("kind", f"{kind!r} is neither 'account' nor 'cluster'")
    stats = record.get("stats")
    if stats is not None:
        if not isinstance(stats, dict):
            raise _Bad("stats", "not an object")
        for name in ("first_seen", "last_seen"):
            try:
                _time(stats, name, required=False)
            except _Bad as exc:
                raise _Bad(f"stats.{name}", exc.message) from None
    for i, reason in enumerate(_list(record, "reasons")):
        if not isinstance(reason, dict) or not isinstance(reason.get("code"), str):
            raise _Bad(f"reasons[{i}].code", "missing or not a string")
    for i, example in enumerate(_list(record, "examples")):
        if not isinstance(example, dict):
            raise _Bad(f"examples[{i}]", "not an object")
        if not isinstance(example.get("request_id", ""), str):
            raise _Bad(f"examples[{i}].request_id", "not a string")


def _list(record: Mapping[str, Any], name: str) -> list[Any]:
    """An optional list field: absent or null is empty; anything else must be a list."""
    value = record.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Bad(name, "not a list")
    return value


def _check_alert(record: Mapping[str, Any]) -> None:
    _time(record, "ts", required=True)
    _need(record, "account_id", str)
    _need(record, "request_id", str)
    _need(record, "action", str)
    _risk(record)
    if not all(isinstance(r, str) for r in _list(record, "reasons")):
        raise _Bad("reasons", "not a list of reason codes")


FINDING, ALERT = "finding", "alert"


def _kind(record: Any) -> str:
    """Which of the two records a line holds, once its fields are checked."""
    if not isinstance(record, dict):
        raise _Bad("(line)", "not a JSON object")
    if "finding_id" in record:
        _check_finding(record)
        return FINDING
    if "action" in record:
        _check_alert(record)
        return ALERT
    raise _Bad("finding_id", "neither a finding (finding_id) nor an alert (action)")


def read_records(inputs: list[str] | tuple[str, ...], *, stats: ReadStats,
                 strict: bool = False) -> Iterator[tuple[str, dict[str, Any]]]:
    """(``"finding"`` or ``"alert"``, record) for every good line of the inputs, in order.

    Bad lines go to ``stats``; with ``strict`` the first one raises ``InputError``.
    """
    for name in expand_inputs(list(inputs)):
        stats.files.append(name)
        with open_input(name) as stream:
            for number, raw in enumerate(stream, start=1):
                if not raw.strip():
                    continue
                stats.rows += 1
                try:
                    try:
                        record = orjson.loads(raw)
                    except orjson.JSONDecodeError as exc:
                        raise _Bad("(line)", f"not JSON: {exc}") from None
                    kind = _kind(record)
                except _Bad as bad:
                    if strict:
                        raise InputError(bad.message, path=name, line=number,
                                         field=bad.field) from None
                    stats.add_bad(BadLine(name, number, bad.field, bad.message))
                    continue
                stats.good += 1
                yield kind, record


def ocsf_events(inputs: list[str] | tuple[str, ...], *, time_ms: int, stats: ReadStats,
                strict: bool = False) -> Iterator[dict[str, Any]]:
    """OCSF events for every good line of the inputs, in input order.

    ``time_ms`` stamps findings (when the scan made them); an alert carries its own time.
    """
    for kind, record in read_records(inputs, stats=stats, strict=strict):
        yield (finding_to_ocsf(record, time_ms=time_ms) if kind == FINDING
               else alert_to_ocsf(record))


def otlp_records(inputs: list[str] | tuple[str, ...], *, time_ms: int, stats: ReadStats,
                 strict: bool = False) -> Iterator[dict[str, Any]]:
    """OpenTelemetry log records (OTLP/JSON) for every good line of the inputs, in order."""
    for kind, record in read_records(inputs, stats=stats, strict=strict):
        yield (finding_to_log_record(record, time_ms=time_ms) if kind == FINDING
               else alert_to_log_record(record))


#: Output formats of ``export``.
FORMATS = ("ocsf", "otlp")


def export(inputs: list[str] | tuple[str, ...], out: IO[bytes], *, to: str, time_ms: int,
           stats: ReadStats, strict: bool = False, batch: int = OTLP_BATCH) -> int:
    """Write the inputs' findings and alerts to ``out``; returns how many were written.

    ``ocsf``: one OCSF event per line. ``otlp``: one OTLP/JSON logs request per line, each
    holding up to ``batch`` log records (what the OpenTelemetry Collector's file exporter
    writes and its ``otlpjsonfile`` receiver reads).
    """
    if to == "ocsf":
        written = 0
        for event in ocsf_events(inputs, time_ms=time_ms, stats=stats, strict=strict):
            out.write(orjson.dumps(event) + b"\n")
            written += 1
        return written
    if to == "otlp":
        written = 0
        pending: list[dict[str, Any]] = []
        for log_record in otlp_records(inputs, time_ms=time_ms, stats=stats, strict=strict):
            pending.append(log_record)
            if len(pending) >= batch:
                out.write(orjson.dumps(logs_request(pending)) + b"\n")
                written += len(pending)
                pending = []
        if pending:
            out.write(orjson.dumps(logs_request(pending)) + b"\n")
            written += len(pending)
        return written
    raise ValueError(f"unknown export format {to!r}; choose one of {', '.join(FORMATS)}")
