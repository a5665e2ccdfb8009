"""Render a benchmark report: one rich table for people, JSON for machines."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

__all__ = ["NOT_AVAILABLE", "build_table", "render_table", "write_json"]

NOT_AVAILABLE = "not available"
Row = dict[str, Any]


def write_json(report: dict[str, Any], path: Path) -> None:
    """Write ``report`` as indented JSON (non-finite numbers become null)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(_finite(report), option=orjson.OPT_INDENT_2) + b"\n")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _pct(value: Any) -> str:
    return NOT_AVAILABLE if value is None else f"{100.0 * value:.1f}%"


def _num(value: Any, digits: int = 0) -> str:
    if value is None:
        return NOT_AVAILABLE
    return f"{value:,.{digits}f}"


def _why(row: Row) -> str:
    why = row.get("why")
    if not why:
        return ""
    text = " ".join(str(why).split())
    return text if len(text) <= 160 else text[:80] + " ... " + text[-75:]


def _joined(*parts: str) -> str:
    """Join figures, collapsing to one "not available" when every part is unavailable."""
    if all(NOT_AVAILABLE in p for p in parts):
        return NOT_AVAILABLE
    return " · ".join(parts)


Line = tuple[str, str, str]  # figure, value, notes


def _account_lines(report: dict[str, Any]) -> list[Line]:
    acc: Row = report.get("account_level", {})
    lines: list[Line] = []
    if acc.get("n_accounts"):
        lines.append((
            "accounts", f"{_num(acc.get('n_benign'))} benign, {_num(acc.get('n_harvester'))} "
            "harvester", "",
        ))
    auc: Row = acc.get("auroc", {})
    lines.append(("AUROC of risk", _num(auc.get("value"), 3), _why(auc)))
    for row in acc.get("tpr_at_fpr", []):
        note = _why(row) or (
            f"FPR {_pct(row.get('fpr'))}, ≤{row.get('max_false_positives')} false positives "
            f"of {row.get('n_benign')} benign" + (f"; {row['note']}" if row.get("note") else "")
        )
        lines.append((f"TPR at FPR ≤ {100 * row['target_fpr']:g}%", _pct(row.get("tpr")), note))
    verdict: Row = acc.get("at_verdict", {})
    lines.append((
        "verdict harvesting",
        _joined(f"TPR {_pct(verdict.get('tpr_harvesting'))}",
                f"FPR {_pct(verdict.get('fpr_harvesting'))}"),
        _why(verdict),
    ))
    lines.append((
        "verdict suspicious or harvesting",
        _joined(f"TPR {_pct(verdict.get('tpr_flagged'))}",
                f"FPR {_pct(verdict.get('fpr_flagged'))}"),
        _why(verdict),
    ))
    contract: Row = acc.get("contract", {})
    if contract.get("missing_from_scan") is not None:
        lines.append((
            "contract violations",
            f"{contract['missing_from_scan']} labelled accounts missing from accounts.csv",
            f"{contract.get('bad_rows', 0)} bad rows, {contract.get('duplicate_rows', 0)} "
            "duplicates; missing accounts count as risk 0 / normal",
        ))
    return lines


def _profile_lines(report: dict[str, Any]) -> list[Line]:
    lines: list[Line] = []
    for row in report.get("per_profile", []):
        kind = "recall" if row["label"] == "harvester" else "false-positive rate"
        tag = ", hard negative" if row.get("hard_negative") else ""
        lines.append((
            f"{row['profile']} [{row['label']}, n={row['n']}]",
            _joined(f"harvesting {_pct(row.get('harvesting'))}",
                    f"flagged {_pct(row.get('flagged'))}"),
            _why(row) or f"{kind}{tag}",
        ))
    return lines


def _ring_lines(report: dict[str, Any]) -> list[Line]:
    rings: Row = report.get("rings", {})
    ari: Row = rings.get("ari", {})
    lines: list[Line] = [(
        "adjusted Rand index", _num(ari.get("value"), 3),
        _why(ari) or "cluster_id against campaign; no cluster = singleton",
    )]
    for row in rings.get("campaigns", []):
        outsiders = row.get("cluster_outsiders")
        lines.append((
            f"{row['campaign']} [{', '.join(row['profiles'])}, {row['members']} members]",
            _joined(f"flagged {_pct(row.get('flagged_share'))}",
                    f"one cluster {_pct(row.get('same_cluster_share'))}"),
            _why(row) or (f"{outsiders} outsiders in that cluster" if outsiders else ""),
        ))
    if not rings.get("campaigns") and rings.get("why"):
        lines.append(("campaigns", NOT_AVAILABLE, _why(rings)))
    return lines


def _ttd_lines(report: dict[str, Any]) -> list[Line]:
    ttd: Row = report.get("time_to_detect", {})
    lines: list[Line] = []
    for row in ttd.get("per_profile", []):
        value = _joined(
            f"calls {_num(row.get('calls_median'))} / {_num(row.get('calls_p90'))}",
            f"tokens {_num(row.get('tokens_median'))} / {_num(row.get('tokens_p90'))}",
        )
        note = _why(row) if row.get("never_alerted_share") is None else (
            f"median / p90; never alerted {_pct(row.get('never_alerted_share'))}"
            + (f"; {_why(row)}" if _why(row) else "")
        )
        lines.append((f"{row['profile']} [n={row['n']}]", value, note))
    for ring in ttd.get("rings", []):
        lines.append((
            f"ring {ring['campaign']} [{ring['members']} accounts]",
            _joined(f"calls {_num(ring.get('calls_before_alert'))}",
                    f"tokens {_num(ring.get('tokens_before_alert'))}"),
            _why(ring) or f"all members together before the first alert, of "
            f"{_num(ring.get('calls_total'))}; members alerted "
            f"{_pct(ring.get('members_alerted_share'))}",
        ))
    benign: Row = ttd.get("benign_alerts", {})
    lines.append((
        "benign alerts / 1,000 accounts / day", _num(benign.get("per_1000_accounts_per_day"), 2),
        _why(benign) or f"{benign.get('alerts')} alerts on {benign.get('accounts_alerted')} "
        f"of {benign.get('n_benign')} benign accounts over {_num(benign.get('days'), 1)} days",
    ))
    return lines


def _cost_lines(report: dict[str, Any]) -> list[Line]:
    return [
        (
            name,
            _joined(f"{_num(row.get('calls_per_s'))} calls/s",
                    f"peak {_num(row.get('peak_rss_mib'))} MiB",
                    f"{_num(row.get('wall_s'), 1)} s"),
            _why(row),
        )
        for name, row in report.get("cost", {}).items()
    ]


def _caption(report: dict[str, Any]) -> str:
    parts = []
    for name, step in report.get("steps", {}).items():
        if not step.get("available"):
            state = "not available"
        elif step.get("ok"):
            state = f"ok in {_num(step.get('wall_s'), 1)} s"
        else:
            state = f"failed (exit {step.get('exit_code')})"
        parts.append(f"{name}: {state}")
    return " · ".join(parts)


def build_table(report: dict[str, Any]) -> Table:
    """The report as one table with sections: account level, per profile, rings, time to
    detect, cost. A section whose figures all lack the same reason shows it once."""
    suite: Row = report.get("suite", {})
    table = Table(
        title=f"distillwatch bench: {report.get('size')} "
        f"({_num(suite.get('accounts'))} accounts, {_num(suite.get('calls'))} calls, "
        f"{_num(suite.get('days'), 1)} days)",
        caption=_caption(report) or None,
    )
    table.add_column("figure", style="bold")
    table.add_column("value")
    table.add_column("notes", style="dim", overflow="fold")
    sections = (
        ("account level", _account_lines(report)),
        ("per profile (share of accounts by verdict)", _profile_lines(report)),
        ("rings", _ring_lines(report)),
        ("time to detect (watch)", _ttd_lines(report)),
        ("cost", _cost_lines(report)),
    )
    for title, lines in sections:
        if table.row_count:
            table.add_section()
        table.add_row(f"[reverse] {title} [/reverse]", "", "")
        notes = {note for _, _, note in lines}
        if len(lines) > 1 and len(notes) == 1 and all(v == NOT_AVAILABLE for _, v, _ in lines):
            table.add_row("every figure", NOT_AVAILABLE, notes.pop())
            continue
        if not lines:
            table.add_row("every figure", NOT_AVAILABLE, _why(suite) or "no rows")
        for line in lines:
            table.add_row(*line)
    return table


def render_table(report: dict[str, Any], console: Console | None = None) -> None:
    """Print the report table on ``console`` (stdout by default)."""
    (console or Console()).print(build_table(report))
