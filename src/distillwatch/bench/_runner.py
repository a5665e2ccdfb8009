"""Run the benchmark suite: simulate, scan and watch as subprocesses, then score the outputs.

The commands run exactly as a user would run them (the console script, never labels passed to
a detector). :func:`evaluate` is the pure scoring step over a simulation directory and the
detector outputs; :func:`run_bench` drives the whole suite.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from distillwatch.bench._metrics import (
    adjusted_rand_index,
    auroc,
    calls_before_time,
    calls_to_first_alert,
    largest_shared_cluster,
    percentile,
    share,
    singletons,
    tpr_at_fpr,
)

__all__ = [
    "FPR_TARGETS",
    "HARD_NEGATIVE_PROFILES",
    "SEEDS",
    "SIZES",
    "BenchConfig",
    "StepResult",
    "cost_section",
    "default_json_path",
    "evaluate",
    "find_cli",
    "machine_info",
    "run_bench",
]

SIZES = ("small", "medium", "large")
SEEDS: dict[str, int] = {"small": 20251, "medium": 20252, "large": 20253}
# Benign profiles built to look like harvesting: each gets its own false-positive row.
HARD_NEGATIVE_PROFILES: frozenset[str] = frozenset(
    {"batch_job", "eval_lab", "reseller", "power_user"}
)
FPR_TARGETS = (0.001, 0.01)
VERDICTS = ("harvesting", "suspicious", "normal")
FLAGGED = frozenset({"harvesting", "suspicious"})
SCHEMA = "distillwatch.bench/1"
TTD_DEFINITION = (
    "calls: the harvester's calls in time order (ts, then request_id) up to and including the "
    "first call named by an alert; tokens: usage.completion_tokens of the calls before that call "
    "(the alerted call excluded); median and p90 (linear interpolation) over alerted accounts"
)

Progress = Callable[[int, int], None]
Row = dict[str, Any]


# ---------------------------------------------------------------------------------------------
# Reading inputs


def _open_text(path: Path) -> tuple[io.BufferedReader, io.BufferedIOBase]:
    """Open a JSONL file, gzip or plain; returns (raw file for progress, decompressed stream)."""
    raw = open(path, "rb")  # noqa: SIM115 - closed by the caller
    if raw.peek(2)[:2] != b"\x1f\x8b":
        return raw, raw
    try:
        from isal import igzip

        return raw, igzip.IGzipFile(fileobj=raw, mode="rb")
    except ImportError:  # pragma: no cover - isal is a dependency
        return raw, gzip.GzipFile(fileobj=raw, mode="rb")


def _iter_jsonl(path: Path, progress: Progress | None = None) -> Iterator[Any]:
    """Decoded JSON values of a JSONL(.gz) file; undecodable lines yield ``None``."""
    total = path.stat().st_size
    raw, stream = _open_text(path)
    try:
        for n, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                yield orjson.loads(line)
            except orjson.JSONDecodeError:
                yield None
            if progress is not None and n % 20_000 == 0:
                progress(raw.tell(), total)
        if progress is not None:
            progress(total, total)
    finally:
        stream.close()
        raw.close()


def _time_key(value: Any) -> int | None:
    """RFC 3339 timestamp to integer microseconds since the epoch (naive means UTC)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return round(parsed.timestamp() * 1_000_000)


@dataclass
class _Labels:
    label: dict[str, str] = field(default_factory=dict)
    profile: dict[str, str] = field(default_factory=dict)
    campaign: dict[str, str | None] = field(default_factory=dict)
    bad_lines: int = 0


def _read_labels(path: Path) -> _Labels:
    out = _Labels()
    for record in _iter_jsonl(path):
        if not isinstance(record, dict) or not isinstance(record.get("account_id"), str):
            out.bad_lines += 1
            continue
        label = record.get("label")
        if label not in ("benign", "harvester"):
            out.bad_lines += 1
            continue
        account = record["account_id"]
        campaign = record.get("campaign")
        out.label[account] = label
        out.profile[account] = str(record.get("profile") or "unknown")
        out.campaign[account] = str(campaign) if campaign not in (None, "") else None
    return out


@dataclass
class _ScanRow:
    risk: float
    verdict: str
    cluster_id: str | None


@dataclass
class _Scan:
    rows: dict[str, _ScanRow] = field(default_factory=dict)
    bad_rows: int = 0
    duplicate_rows: int = 0
    missing_columns: list[str] = field(default_factory=list)


def _read_scan(path: Path) -> _Scan:
    out = _Scan()
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        needed = ("account_id", "risk", "verdict", "cluster_id")
        out.missing_columns = [c for c in needed if c not in (reader.fieldnames or [])]
        if out.missing_columns:
            return out
        for row in reader:
            account = row.get("account_id") or ""
            try:
                risk = float(row.get("risk") or "")
            except ValueError:
                risk = float("nan")
            verdict = (row.get("verdict") or "").strip()
            if not account or not 0.0 <= risk <= 1.0 or verdict not in VERDICTS:
                out.bad_rows += 1
                if not account:
                    continue
                risk = risk if 0.0 <= risk <= 1.0 else 0.0
                verdict = verdict if verdict in VERDICTS else "normal"
            if account in out.rows:
                out.duplicate_rows += 1
                continue
            cluster = (row.get("cluster_id") or "").strip() or None
            out.rows[account] = _ScanRow(risk=risk, verdict=verdict, cluster_id=cluster)
    return out


@dataclass
class _Alerts:
    count: Counter[str] = field(default_factory=Counter)
    # For harvester accounts only: every alerted request id, and the earliest alert time.
    request_ids: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    first_ts: dict[str, int] = field(default_factory=dict)
    bad_lines: int = 0
    unknown_account: int = 0


def _read_alerts(path: Path, labels: _Labels) -> _Alerts:
    out = _Alerts()
    for record in _iter_jsonl(path):
        if not isinstance(record, dict) or not isinstance(record.get("account_id"), str):
            out.bad_lines += 1
            continue
        account = record["account_id"]
        label = labels.label.get(account)
        if label is None:
            out.unknown_account += 1
            continue
        out.count[account] += 1
        if label != "harvester":
            continue
        request_id = record.get("request_id")
        if isinstance(request_id, str):
            out.request_ids[account].add(request_id)
        key = _time_key(record.get("ts"))
        if key is not None and (account not in out.first_ts or key < out.first_ts[account]):
            out.first_ts[account] = key
    return out


@dataclass
class _Traffic:
    calls: int = 0
    bad_lines: int = 0
    first: int | None = None
    last: int | None = None
    # (time key, request_id, completion tokens) per call, for alerted harvester accounts only.
    kept: dict[str, list[tuple[int, str, int]]] = field(default_factory=lambda: defaultdict(list))


def _completion_tokens(record: dict[str, Any]) -> int:
    response = record.get("response")
    if not isinstance(response, dict):
        return 0
    usage = response.get("usage")
    if not isinstance(usage, dict):
        return 0
    tokens = usage.get("completion_tokens")
    return tokens if isinstance(tokens, int) and not isinstance(tokens, bool) else 0


def _read_traffic(path: Path, keep: set[str], progress: Progress | None) -> _Traffic:
    """One streaming pass: counts calls and the time span; keeps per-call keys of ``keep``."""
    out = _Traffic()
    for record in _iter_jsonl(path, progress):
        if not isinstance(record, dict):
            out.bad_lines += 1
            continue
        out.calls += 1
        key = _time_key(record.get("ts"))
        if key is None:
            out.bad_lines += 1
            continue
        if out.first is None or key < out.first:
            out.first = key
        if out.last is None or key > out.last:
            out.last = key
        account = record.get("account_id")
        if account in keep:
            request_id = record.get("request_id")
            out.kept[account].append(
                (key, request_id if isinstance(request_id, str) else "", _completion_tokens(record))
            )
    return out


def _traffic_path(sim_dir: Path) -> Path | None:
    for name in ("traffic.jsonl.gz", "traffic.jsonl"):
        if (sim_dir / name).is_file():
            return sim_dir / name
    return None


# ---------------------------------------------------------------------------------------------
# Scoring


def _na(row: Row, why: str, *keys: str) -> Row:
    for key in keys:
        row[key] = None
    row["why"] = why
    return row


def _profile_order(labels: _Labels) -> list[tuple[str, str]]:
    """(profile, label) pairs: harvester profiles, then benign, then hard negatives."""
    pairs = {(labels.profile[a], labels.label[a]) for a in labels.label}

    def rank(pair: tuple[str, str]) -> tuple[int, str]:
        profile, label = pair
        if label == "harvester":
            return 0, profile
        return (2 if profile in HARD_NEGATIVE_PROFILES else 1), profile

    return sorted(pairs, key=rank)


def _account_level(labels: _Labels, scan: _Scan | None, scan_why: str) -> Row:
    accounts = sorted(labels.label)
    positive = np.array([labels.label[a] == "harvester" for a in accounts], dtype=bool)
    n_harv = int(positive.sum())
    n_benign = len(accounts) - n_harv
    section: Row = {"n_accounts": len(accounts), "n_benign": n_benign, "n_harvester": n_harv}
    fpr_rows: list[Row] = []
    if scan is None:
        section["auroc"] = _na({}, scan_why, "value")
        for target in FPR_TARGETS:
            row: Row = {"target_fpr": target, "n_benign": n_benign,
                        "max_false_positives": int(target * n_benign + 1e-9)}
            fpr_rows.append(_na(row, scan_why, "tpr", "fpr", "threshold", "true_positives",
                                "false_positives"))
        section["tpr_at_fpr"] = fpr_rows
        section["at_verdict"] = _na({}, scan_why, "tpr_harvesting", "fpr_harvesting",
                                    "tpr_flagged", "fpr_flagged")
        section["contract"] = _na({}, scan_why, "missing_from_scan", "not_in_labels",
                                  "bad_rows", "duplicate_rows")
        return section

    missing = [a for a in accounts if a not in scan.rows]
    risk = np.array([scan.rows[a].risk if a in scan.rows else 0.0 for a in accounts])
    verdict = [scan.rows[a].verdict if a in scan.rows else "normal" for a in accounts]
    value = auroc(risk, positive)
    section["auroc"] = (
        {"value": value} if value is not None
        else _na({}, "needs both benign and harvester accounts", "value")
    )
    for target in FPR_TARGETS:
        point = tpr_at_fpr(risk, positive, target)
        row = {"target_fpr": target, "n_benign": n_benign,
               "max_false_positives": int(target * n_benign + 1e-9)}
        if point is None:
            fpr_rows.append(_na(row, "needs both benign and harvester accounts", "tpr", "fpr",
                                "threshold", "true_positives", "false_positives"))
            continue
        row.update(
            tpr=point.tpr, fpr=point.fpr,
            threshold=None if point.threshold == float("inf") else point.threshold,
            true_positives=point.true_positives, false_positives=point.false_positives,
            max_false_positives=point.max_false_positives,
        )
        if point.threshold == float("inf"):
            row["note"] = "no threshold meets the target: flagging nothing"
        fpr_rows.append(row)
    section["tpr_at_fpr"] = fpr_rows
    harvesting = np.array([v == "harvesting" for v in verdict], dtype=bool)
    flagged = np.array([v in FLAGGED for v in verdict], dtype=bool)
    at_verdict: Row = {
        "tpr_harvesting": share(int((harvesting & positive).sum()), n_harv),
        "fpr_harvesting": share(int((harvesting & ~positive).sum()), n_benign),
        "tpr_flagged": share(int((flagged & positive).sum()), n_harv),
        "fpr_flagged": share(int((flagged & ~positive).sum()), n_benign),
    }
    if None in at_verdict.values():
        at_verdict["why"] = "needs both benign and harvester accounts"
    section["at_verdict"] = at_verdict
    section["contract"] = {
        "missing_from_scan": len(missing),
        "missing_examples": missing[:5],
        "not_in_labels": sum(1 for a in scan.rows if a not in labels.label),
        "bad_rows": scan.bad_rows,
        "duplicate_rows": scan.duplicate_rows,
    }
    return section


def _per_profile(labels: _Labels, scan: _Scan | None, scan_why: str) -> list[Row]:
    members: dict[tuple[str, str], list[str]] = defaultdict(list)
    for account, label in labels.label.items():
        members[(labels.profile[account], label)].append(account)
    rows: list[Row] = []
    for profile, label in _profile_order(labels):
        accounts = members[(profile, label)]
        row: Row = {
            "profile": profile,
            "label": label,
            "hard_negative": label == "benign" and profile in HARD_NEGATIVE_PROFILES,
            "measures": "recall" if label == "harvester" else "false_positive_rate",
            "n": len(accounts),
        }
        if scan is None:
            rows.append(_na(row, scan_why, "harvesting", "flagged"))
            continue
        verdicts = [scan.rows[a].verdict if a in scan.rows else "normal" for a in accounts]
        row["harvesting"] = share(sum(v == "harvesting" for v in verdicts), len(accounts))
        row["flagged"] = share(sum(v in FLAGGED for v in verdicts), len(accounts))
        rows.append(row)
    return rows


def _rings(labels: _Labels, scan: _Scan | None, scan_why: str) -> Row:
    accounts = sorted(labels.label)
    by_campaign: dict[str, list[str]] = defaultdict(list)
    for account in accounts:
        campaign = labels.campaign[account]
        if campaign is not None:
            by_campaign[campaign].append(account)
    multi = {c: m for c, m in sorted(by_campaign.items()) if len(m) > 1}
    section: Row = {"n_campaigns": len(by_campaign), "n_multi_member_campaigns": len(multi)}
    if scan is None:
        section["ari"] = _na({}, scan_why, "value")
    else:
        truth = singletons(labels.campaign[a] for a in accounts)
        clusters = [scan.rows[a].cluster_id if a in scan.rows else None for a in accounts]
        predicted = singletons(clusters)
        n_clusters = len({c for c in clusters if c})
        if n_clusters == 0:
            # no linking ran (or it linked nothing): an index over singletons says nothing
            section["ari"] = _na({"n_accounts": len(accounts), "n_clusters": 0},
                                 "no account has a cluster_id in accounts.csv (accounts were "
                                 "not linked)", "value")
        else:
            section["ari"] = {
                "value": adjusted_rand_index(truth, predicted),
                "n_accounts": len(accounts),
                "n_clusters": n_clusters,
            }
    cluster_sizes = Counter(
        r.cluster_id for a, r in (scan.rows.items() if scan else []) if r.cluster_id
        and a in labels.label
    )
    rows: list[Row] = []
    for campaign, members in multi.items():
        row: Row = {
            "campaign": campaign,
            "profiles": sorted({labels.profile[a] for a in members}),
            "members": len(members),
        }
        if scan is None:
            rows.append(_na(row, scan_why, "flagged_share", "same_cluster_share", "cluster_id",
                            "cluster_outsiders"))
            continue
        member_rows = [scan.rows.get(a) for a in members]
        flagged = sum(1 for r in member_rows if r is not None and r.verdict in FLAGGED)
        cluster, count = largest_shared_cluster([r.cluster_id if r else None for r in member_rows])
        row["flagged_share"] = flagged / len(members)
        row["same_cluster_share"] = count / len(members)
        row["cluster_id"] = cluster
        row["cluster_outsiders"] = cluster_sizes[cluster] - count if cluster else 0
        rows.append(row)
    section["campaigns"] = rows
    if not multi and labels.label:
        section["why"] = "no campaign has more than one member"
    return section


def _time_to_detect(
    labels: _Labels,
    traffic: _Traffic | None,
    alerts: _Alerts | None,
    days: float | None,
    why: str,
) -> Row:
    harvester_profiles = [p for p, lab in _profile_order(labels) if lab == "harvester"]
    by_profile: dict[str, list[str]] = defaultdict(list)
    for account, label in labels.label.items():
        if label == "harvester":
            by_profile[labels.profile[account]].append(account)
    section: Row = {"definition": TTD_DEFINITION}
    n_benign = sum(1 for lab in labels.label.values() if lab == "benign")
    if traffic is None or alerts is None:
        section["per_profile"] = [
            _na({"profile": p, "n": len(by_profile[p])}, why, "alerted", "never_alerted_share",
                "calls_median", "calls_p90", "tokens_median", "tokens_p90")
            for p in harvester_profiles
        ]
        section["benign_alerts"] = _na({"n_benign": n_benign}, why, "alerts", "accounts_alerted",
                                       "days", "per_1000_accounts_per_day")
        section["contract"] = _na({}, why, "alerts_unknown_account", "alerts_unknown_request",
                                  "bad_lines")
        return section

    unknown_request = 0
    rows: list[Row] = []
    for profile in harvester_profiles:
        calls: list[float] = []
        tokens: list[float] = []
        alerted = 0
        for account in by_profile[profile]:
            if alerts.count[account] == 0:
                continue
            alerted += 1
            kept = traffic.kept.get(account, [])
            found = calls_to_first_alert(kept, alerts.request_ids.get(account, set()))
            if found is None:
                unknown_request += 1
                if account not in alerts.first_ts:
                    continue  # neither a known call nor a usable time: cannot be placed
                found = calls_before_time(kept, alerts.first_ts[account])
            calls.append(found[0])
            tokens.append(found[1])
        n = len(by_profile[profile])
        row: Row = {
            "profile": profile,
            "n": n,
            "alerted": alerted,
            "never_alerted_share": share(n - alerted, n),
            "calls_median": percentile(calls, 50),
            "calls_p90": percentile(calls, 90),
            "tokens_median": percentile(tokens, 50),
            "tokens_p90": percentile(tokens, 90),
        }
        if not calls:
            row["why"] = "no account of this profile was alerted"
        rows.append(row)
    section["per_profile"] = rows

    benign_alerted = [a for a, lab in labels.label.items() if lab == "benign" and alerts.count[a]]
    benign_alert_count = sum(alerts.count[a] for a in benign_alerted)
    benign: Row = {
        "n_benign": n_benign,
        "alerts": benign_alert_count,
        "accounts_alerted": len(benign_alerted),
        "days": days,
        "per_1000_accounts_per_day": None,
    }
    if not n_benign:
        benign["why"] = "no benign accounts"
    elif not days:
        benign["why"] = "the traffic spans no time"
    else:
        benign["per_1000_accounts_per_day"] = benign_alert_count / (n_benign / 1000.0) / days
    section["benign_alerts"] = benign
    section["rings"] = _ring_time_to_detect(labels, traffic, alerts)
    section["contract"] = {
        "alerts_unknown_account": alerts.unknown_account,
        "alerts_unknown_request": unknown_request,
        "bad_lines": alerts.bad_lines,
    }
    return section


def _campaign_members(labels: _Labels) -> dict[str, list[str]]:
    """Harvesting campaigns of more than one account (rings), by campaign."""
    members: dict[str, list[str]] = defaultdict(list)
    for account, campaign in labels.campaign.items():
        if campaign is not None and labels.label.get(account) == "harvester":
            members[campaign].append(account)
    return {c: sorted(m) for c, m in sorted(members.items()) if len(m) > 1}


def _ring_members(labels: _Labels) -> set[str]:
    return {a for m in _campaign_members(labels).values() for a in m}


def _ring_time_to_detect(labels: _Labels, traffic: _Traffic, alerts: _Alerts) -> list[Row]:
    """Per ring: calls (all members together, in time order) before its first alert."""
    rows: list[Row] = []
    for campaign, members in _campaign_members(labels).items():
        calls = [c for a in members for c in traffic.kept.get(a, [])]
        firsts = [alerts.first_ts[a] for a in members if a in alerts.first_ts]
        row: Row = {"campaign": campaign, "members": len(members), "calls_total": len(calls),
                    "members_alerted_share": share(len(firsts), len(members)),
                    "calls_before_alert": None, "tokens_before_alert": None}
        if firsts:
            found = calls_before_time(calls, min(firsts))
            row["calls_before_alert"], row["tokens_before_alert"] = found
        else:
            row["why"] = "no member was alerted"
        rows.append(row)
    return rows


def _missing(path: Path | None, given_why: str | None, what: str) -> str | None:
    """Why an input cannot be used, or None when it can."""
    if given_why:
        return given_why
    if path is None:
        return f"{what} not available"
    if not path.is_file():
        return f"{what} missing: {path}"
    return None


def evaluate(
    sim_dir: Path,
    accounts_csv: Path | None,
    alerts_path: Path | None,
    *,
    scan_why: str | None = None,
    watch_why: str | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Score detector outputs against the labels of a simulation directory.

    ``sim_dir`` holds ``labels.jsonl`` and ``traffic.jsonl.gz`` (or ``traffic.jsonl``);
    ``accounts_csv`` is scan's output, ``alerts_path`` watch's. A reason in ``scan_why`` or
    ``watch_why`` (the step did not run or failed) marks that output as not available even if
    a stale file exists. Every figure that cannot be computed is ``None`` with a ``why``.
    Returns the sections ``suite``, ``account_level``, ``per_profile``, ``rings``,
    ``time_to_detect``.
    """
    labels_path = sim_dir / "labels.jsonl"
    if not labels_path.is_file():
        labels = _Labels()
        label_why: str | None = f"labels missing: {labels_path}"
    else:
        labels = _read_labels(labels_path)
        label_why = None if labels.label else f"no usable labels in {labels_path}"

    scan_problem = scan_why or label_why or _missing(accounts_csv, None, "scan output")
    scan: _Scan | None = None
    if scan_problem is None and accounts_csv is not None:
        scan = _read_scan(accounts_csv)
        if scan.missing_columns:
            scan_problem = f"{accounts_csv} lacks columns {', '.join(scan.missing_columns)}"
            scan = None

    traffic_file = _traffic_path(sim_dir)
    alerts_problem = watch_why or label_why or _missing(alerts_path, None, "watch alerts")
    alerts: _Alerts | None = None
    if alerts_problem is None and alerts_path is not None:
        alerts = _read_alerts(alerts_path, labels)
    traffic: _Traffic | None = None
    if traffic_file is not None and label_why is None:
        keep = {a for a in alerts.count if labels.label.get(a) == "harvester"} if alerts else set()
        keep |= _ring_members(labels) if alerts else set()
        traffic = _read_traffic(traffic_file, keep, progress)
    elif alerts_problem is None:
        alerts_problem = f"traffic missing in {sim_dir}"

    days: float | None = None
    if traffic is not None and traffic.first is not None and traffic.last is not None:
        days = (traffic.last - traffic.first) / 86_400e6
    suite: Row = {
        "accounts": len(labels.label),
        "benign": sum(1 for lab in labels.label.values() if lab == "benign"),
        "harvesters": sum(1 for lab in labels.label.values() if lab == "harvester"),
        "profiles": dict(sorted(Counter(labels.profile.values()).items())),
        "hard_negative_profiles": sorted(HARD_NEGATIVE_PROFILES),
        "calls": traffic.calls if traffic else None,
        "days": days,
        "first_ts": _iso(traffic.first) if traffic else None,
        "last_ts": _iso(traffic.last) if traffic else None,
        "traffic_bad_lines": traffic.bad_lines if traffic else None,
        "label_bad_lines": labels.bad_lines,
    }
    if label_why or traffic is None:
        suite["why"] = label_why or f"traffic missing in {sim_dir}"
    return {
        "suite": suite,
        "account_level": _account_level(labels, scan, scan_problem or ""),
        "per_profile": _per_profile(labels, scan, scan_problem or ""),
        "rings": _rings(labels, scan, scan_problem or ""),
        "time_to_detect": _time_to_detect(labels, traffic, alerts, days, alerts_problem or ""),
    }


def _iso(key: int | None) -> str | None:
    if key is None:
        return None
    return datetime.fromtimestamp(key / 1e6, tz=UTC).isoformat().replace("+00:00", "Z")


# ---------------------------------------------------------------------------------------------
# Running the commands


@dataclass
class StepResult:
    """One command of the suite: whether it exists, how it ended, what it cost."""

    name: str
    available: bool
    ok: bool = False
    why: str | None = None
    exit_code: int | None = None
    wall_s: float | None = None
    peak_rss_mib: float | None = None
    log: str | None = None
    command: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def find_cli() -> list[str]:
    """The ``distillwatch`` console script, or the interpreter running its entry point."""
    script = shutil.which("distillwatch")
    if script:
        return [script]
    return [sys.executable, "-c", "from distillwatch.cli import main; main()"]


def _tail(text: str, lines: int = 3) -> str:
    kept = [line.strip() for line in text.strip().splitlines() if line.strip()][-lines:]
    return " | ".join(kept)[-400:]


def command_available(cli: Sequence[str], name: str) -> tuple[bool, str | None]:
    """Whether ``distillwatch NAME --help`` exits 0; otherwise the reason."""
    try:
        done = subprocess.run(
            [*cli, name, "--help"], capture_output=True, text=True, timeout=120, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"`distillwatch {name} --help` could not run: {exc}"
    if done.returncode != 0:
        detail = _tail(done.stderr or done.stdout, lines=1)
        return False, f"`distillwatch {name}` not available (exit {done.returncode}): {detail}"
    return True, None


# Runs the command as its only child, then reports its wall time and the peak RSS of the
# largest process among the command and its descendants (RUSAGE_CHILDREN of a fresh process
# covers nothing else).
_MEASURE = """\
import json, resource, subprocess, sys, time
out, cmd = sys.argv[1], sys.argv[2:]
t0 = time.perf_counter()
try:
    rc = subprocess.call(cmd)
except OSError as exc:
    print(f"cannot start: {exc}", file=sys.stderr)
    rc = 127
wall = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
with open(out, "w") as f:
    json.dump({"rc": rc, "wall_s": wall, "peak_rss_kib": peak}, f)
"""


def run_measured(name: str, command: Sequence[str], log_path: Path) -> StepResult:
    """Run ``command`` (output to ``log_path``) and measure its wall time and peak RSS."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    stats_path = log_path.with_suffix(".stats.json")
    stats_path.unlink(missing_ok=True)
    result = StepResult(name=name, available=True, log=str(log_path), command=list(command))
    with open(log_path, "wb") as log:
        done = subprocess.run(
            [sys.executable, "-c", _MEASURE, str(stats_path), *command],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, check=False,
        )
    if not stats_path.is_file():
        result.why = f"measuring wrapper failed (exit {done.returncode}); see {log_path}"
        return result
    stats = orjson.loads(stats_path.read_bytes())
    stats_path.unlink()
    result.exit_code = int(stats["rc"])
    result.wall_s = float(stats["wall_s"])
    result.peak_rss_mib = float(stats["peak_rss_kib"]) / 1024.0
    result.ok = result.exit_code == 0
    if not result.ok:
        detail = _tail(log_path.read_text(encoding="utf-8", errors="replace"))
        result.why = f"`distillwatch {name}` failed (exit {result.exit_code}): {detail}"
    return result


def cost_section(steps: dict[str, StepResult], calls: int | None) -> dict[str, Any]:
    """Calls per second and peak memory of scan and watch (simulate for reference)."""
    out: dict[str, Any] = {}
    for name in ("scan", "watch", "simulate"):
        step = steps.get(name)
        row: Row = {"wall_s": None, "calls_per_s": None, "peak_rss_mib": None}
        if step is None or not step.ok:
            row["why"] = (step.why if step else None) or f"{name} did not run"
        else:
            row["wall_s"] = step.wall_s
            row["peak_rss_mib"] = step.peak_rss_mib
            if calls is None:
                row["why"] = "the number of calls is unknown (traffic unreadable)"
            elif step.wall_s:
                row["calls_per_s"] = calls / step.wall_s
        out[name] = row
    return out


# ---------------------------------------------------------------------------------------------
# Context for the report


def machine_info() -> dict[str, Any]:
    """Cores, memory and CPU model of this machine."""
    cpu: str | None = None
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as handle:
        for line in handle:
            if line.lower().startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_mib: float | None = None
    with contextlib.suppress(OSError, ValueError), open("/proc/meminfo", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                memory_mib = int(line.split()[1]) / 1024.0
                break
    return {
        "cores": os.cpu_count(),
        "memory_mib": memory_mib,
        "cpu_model": cpu or platform.processor() or None,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def _repo_root(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and (folder / "src" / "distillwatch").is_dir():
            with contextlib.suppress(OSError):
                if 'name = "distillwatch"' in pyproject.read_text(encoding="utf-8"):
                    return folder
    return None


def default_json_path(size: str, workdir: Path, cwd: Path | None = None) -> Path:
    """``bench/results/<size>.json`` of the repository containing ``cwd``, else WORK/bench.json."""
    root = _repo_root((cwd or Path.cwd()).resolve())
    if root is not None:
        return root / "bench" / "results" / f"{size}.json"
    return workdir / "bench.json"


@dataclass
class BenchConfig:
    """What ``distillwatch bench`` was asked to do."""

    size: str = "small"
    corpora: Path | None = None
    json_path: Path | None = None
    workdir: Path | None = None
    keep: bool = False
    command: list[str] = field(default_factory=lambda: list(sys.argv))


_WORK_ITEMS = ("sim", "scan", "scan.duckdb", "scan.duckdb.wal", "alerts.jsonl", "logs")


def _cleanup(workdir: Path, created: bool, spare: Path | None) -> None:
    """Remove what the bench made in ``workdir`` (and the folder itself if it made it)."""
    for item in _WORK_ITEMS:
        target = workdir / item
        if target.is_dir():
            shutil.rmtree(target, ignore_errors=True)
        else:
            target.unlink(missing_ok=True)
    if created and (spare is None or spare.parent != workdir):
        with contextlib.suppress(OSError):
            workdir.rmdir()


def run_bench(config: BenchConfig, console: Any | None = None) -> dict[str, Any]:
    """Run the suite for ``config.size`` and return the report (also written as JSON).

    Prints a progress display and the result table on ``console`` (a rich Console; a default
    one on stderr/stdout when omitted).
    """
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        SpinnerColumn,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    from distillwatch import __version__
    from distillwatch.bench._render import render_table, write_json

    if config.size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}")
    out_console = console or Console()
    err_console = console or Console(stderr=True)
    created = config.workdir is None
    workdir = (
        Path(tempfile.mkdtemp(prefix=f"distillwatch-bench-{config.size}-"))
        if config.workdir is None else config.workdir
    )
    workdir.mkdir(parents=True, exist_ok=True)
    json_path = config.json_path or default_json_path(config.size, workdir)
    seed = SEEDS[config.size]
    sim_dir, scan_dir, alerts = workdir / "sim", workdir / "scan", workdir / "alerts.jsonl"
    logs = workdir / "logs"
    started = datetime.now(UTC)
    cli = find_cli()
    steps: dict[str, StepResult] = {}

    try:
        with Progress(
            SpinnerColumn(), TextColumn("[progress.description]{task.description}"),
            BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
            console=err_console, transient=False,
        ) as progress:

            def step(name: str, command: list[str], clear: Sequence[Path]) -> StepResult:
                task = progress.add_task(f"{name}: checking", total=None)
                available, why = command_available(cli, name)
                if not available:
                    progress.update(task, description=f"{name}: not available", total=1,
                                    completed=1)
                    return StepResult(name=name, available=False, why=why)
                for path in clear:
                    if path.is_dir():
                        shutil.rmtree(path)
                    else:
                        path.unlink(missing_ok=True)
                progress.update(task, description=f"{name}: running")
                result = run_measured(name, [*cli, name, *command], logs / f"{name}.log")
                state = "done" if result.ok else "FAILED"
                progress.update(task, description=f"{name}: {state}", total=1, completed=1)
                return result

            sim_args = ["--scenario", config.size, "--seed", str(seed), "--out", str(sim_dir)]
            if config.corpora is not None:
                sim_args += ["--corpora", str(config.corpora)]
            steps["simulate"] = step("simulate", sim_args, [sim_dir])
            traffic = sim_dir / "traffic.jsonl.gz"
            accounts = sim_dir / "accounts.jsonl"
            sim_why = None if steps["simulate"].ok else (
                steps["simulate"].why or "simulate did not run"
            )
            if sim_why is None and not traffic.is_file():
                sim_why = f"simulate wrote no {traffic.name}"
            inputs = [str(traffic)] + (["--accounts", str(accounts)] if accounts.is_file() else [])
            for name, args, clear in (
                ("scan", ["--out", str(scan_dir), "--db", str(workdir / "scan.duckdb")],
                 [scan_dir, workdir / "scan.duckdb", workdir / "scan.duckdb.wal"]),
                ("watch", ["--alerts", str(alerts)], [alerts]),
            ):
                if sim_why is not None:
                    steps[name] = StepResult(name=name, available=False,
                                             why=f"no suite to run on: {sim_why}")
                else:
                    steps[name] = step(name, [*inputs, *args], clear)

            task = progress.add_task("scoring", total=None)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            figures = evaluate(
                sim_dir,
                scan_dir / "accounts.csv",
                alerts,
                scan_why=None if steps["scan"].ok else steps["scan"].why or "scan did not run",
                watch_why=None if steps["watch"].ok else steps["watch"].why or "watch did not run",
                progress=advance,
            )
            progress.update(task, description="scoring: done", total=1, completed=1)

        report: dict[str, Any] = {
            "schema": SCHEMA,
            "command": config.command,
            "date": started.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "machine": machine_info(),
            "distillwatch_version": __version__,
            "size": config.size,
            "seed": seed,
            "corpora": str(config.corpora) if config.corpora else None,
            "workdir": str(workdir) if config.keep else None,
            **figures,
            "cost": cost_section(steps, figures["suite"]["calls"]),
            "steps": {name: s.as_json() for name, s in steps.items()},
        }
        if not config.keep:
            for result in report["steps"].values():
                result["log"] = None
        write_json(report, json_path)
        render_table(report, out_console)
        out_console.print(f"results written to {json_path}")
        return report
    finally:
        if config.keep:
            err_console.print(f"work directory kept: {workdir}")
        else:
            _cleanup(workdir, created, json_path)
