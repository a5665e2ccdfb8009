"""Build findings for flagged accounts from scores, profiles and the store."""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from typing import Any

import pyarrow as pa

from distillwatch.detect import NORMAL, SUSPICIOUS, ScoreResult, verdict_cap
from distillwatch.engine import Tables
from distillwatch.findings._model import (
    AccountFinding,
    ClusterFinding,
    Example,
    ReasonEvidence,
)
from distillwatch.link import Linking
from distillwatch.profile import EXAMPLES_PER_ACCOUNT, daily_series, register_wanted

__all__ = ["EXAMPLES_SQL", "build_account_findings", "build_cluster_findings", "redact_text"]

_EXAMPLES_TEMPLATE = """
SELECT account_id, request_id, ts, model, system_excerpt, user_excerpt, response_excerpt,
    max_tokens, temperature, n, logprobs, top_logprobs, logit_bias_size, reasoning_effort, cot,
    completion_tokens
FROM (
    SELECT *, row_number() OVER (
        PARTITION BY account_id
        ORDER BY (CASE WHEN cot OR COALESCE(top_logprobs, 0) >= 5 OR logit_bias_size > 0
                       OR COALESCE(n, 1) > 1 THEN 0 ELSE 1 END), prompt_hash, request_id) AS r
    FROM __CALLS__ WHERE account_id IN (SELECT account_id FROM _wanted_accounts)
        AND user_excerpt IS NOT NULL
) s WHERE r <= ?
ORDER BY account_id, r
"""

#: Example calls for the accounts in ``_wanted_accounts`` (``?``: how many each).
EXAMPLES_SQL = _EXAMPLES_TEMPLATE.replace("__CALLS__", "calls")

_STAT_COLUMNS = (
    "n_calls", "n_ok", "prompt_tokens", "completion_tokens", "reasoning_tokens", "active_days",
    "distinct_prompts", "distinct_keys", "distinct_ips", "distinct_ip_prefixes",
    "distinct_user_agents", "distinct_end_users", "distinct_models", "topic_clusters",
    "topic_entropy",
)


def redact_text(text: str | None) -> str | None:
    """Replace a text with its hash and length (``--redact``)."""
    if text is None:
        return None
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    return f"[redacted sha256:{digest} {len(text)} chars]"


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z")


def build_account_findings(
    store: Tables,
    profiles: pa.Table,
    scores: ScoreResult,
    *,
    examples_per_account: int = EXAMPLES_PER_ACCOUNT,
    redact: bool = False,
    clusters: dict[str, str] | None = None,
    partials: str | None = None,
    harvesting_threshold: float | None = None,
) -> list[AccountFinding]:
    """One finding per account whose verdict is not normal, riskiest first.

    With ``partials`` (a table-name prefix), timelines and example calls come from an
    incremental scan's stored per-day partials instead of ``calls``. With the model's
    ``harvesting_threshold``, an account held at ``suspicious`` although its risk is over it
    gets a note saying why (allowlisted, or too few calls of its own).
    """
    if partials is not None and examples_per_account > EXAMPLES_PER_ACCOUNT:
        raise ValueError(f"the stored examples hold {EXAMPLES_PER_ACCOUNT} calls per account "
                         "and day")
    flagged = [i for i, v in enumerate(scores.verdicts) if v != NORMAL]
    flagged.sort(key=lambda i: (-float(scores.risk[i]), scores.account_ids[i]))
    ids = [scores.account_ids[i] for i in flagged]
    if not ids:
        return []
    wanted = set(ids)
    rows = {r["account_id"]: r for r in profiles.to_pylist() if r["account_id"] in wanted}
    series: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in daily_series(store, ids, partials).to_pylist():
        series[r["account_id"]].append({
            "day": r["day"].isoformat(), "calls": r["calls"],
            "prompt_tokens": r["prompt_tokens"], "completion_tokens": r["completion_tokens"]})
    examples: dict[str, list[Example]] = defaultdict(list)
    shown = redact_text if redact else (lambda t: t)
    register_wanted(store, ids)
    examples_sql = (EXAMPLES_SQL if partials is None
                    else _EXAMPLES_TEMPLATE.replace("__CALLS__", f"{partials}examples"))
    for r in store.query_arrow(examples_sql, [examples_per_account]).to_pylist():
        params = {k: r[k] for k in ("max_tokens", "temperature", "n", "logprobs", "top_logprobs",
                                    "logit_bias_size", "reasoning_effort", "cot",
                                    "completion_tokens") if r[k] not in (None, False, 0)}
        examples[r["account_id"]].append(Example(
            r["request_id"], _iso(r["ts"]) or "", r["model"], shown(r["system_excerpt"]),
            shown(r["user_excerpt"]), shown(r["response_excerpt"]), params))
    findings = []
    for i in flagged:
        acc = scores.account_ids[i]
        row = rows[acc]
        stats = {k: _clean(row.get(k)) for k in _STAT_COLUMNS}
        stats["first_seen"] = _iso(row.get("first_ts"))
        stats["last_seen"] = _iso(row.get("last_ts"))
        reasons = tuple(
            ReasonEvidence(r.code, r.describe(), _clean(r.value), _clean(r.baseline),
                           r.contribution)
            for r in scores.reasons[i])
        held = (harvesting_threshold is not None and scores.verdicts[i] == SUSPICIOUS
                and float(scores.risk[i]) >= harvesting_threshold)
        findings.append(AccountFinding(
            account_id=acc, risk=float(scores.risk[i]), verdict=scores.verdicts[i],
            reasons=reasons, stats=stats, timeline=tuple(series.get(acc, [])),
            examples=tuple(examples.get(acc, [])),
            cluster_id=(clusters or {}).get(acc), note=_held_note(row) if held else None))
    return findings


def _held_note(row: dict[str, Any]) -> str | None:
    """Why an account over the ``harvesting`` line is only ``suspicious`` (the scorer's rule)."""
    cap = verdict_cap(allowlisted=bool(row.get("allowlisted")), calls=int(row.get("n_calls") or 0))
    return f"risk over the harvesting line; {cap}" if cap else None


def build_cluster_findings(
    linking: Linking, profiles: pa.Table, scores: ScoreResult, accounts: ScoreResult,
) -> list[ClusterFinding]:
    """One finding per cluster whose own verdict is not normal, riskiest first."""
    rows = {r["account_id"]: r for r in profiles.to_pylist()}
    member_verdict = dict(zip(accounts.account_ids, accounts.verdicts, strict=True))
    by_id = {c.cluster_id: c for c in linking.clusters}
    out = []
    for i, cid in enumerate(scores.account_ids):
        if scores.verdicts[i] == NORMAL:
            continue
        cluster = by_id[cid]
        row = rows[cid]
        stats = {k: _clean(row.get(k)) for k in _STAT_COLUMNS}
        stats["members"] = len(cluster.members)
        stats["first_seen"] = _iso(row.get("first_ts"))
        stats["last_seen"] = _iso(row.get("last_ts"))
        edges = tuple(cluster.edges)
        out.append(ClusterFinding(
            cluster_id=cid, risk=float(scores.risk[i]), verdict=scores.verdicts[i],
            members=tuple(cluster.members),
            member_verdicts={m: member_verdict.get(m, NORMAL) for m in cluster.members},
            edges_by_kind=cluster.edges_by_kind(),
            strongest_edges=tuple(cluster.strongest(10)),
            reasons=tuple(ReasonEvidence(r.code, r.describe(), _clean(r.value),
                                         _clean(r.baseline), r.contribution)
                          for r in scores.reasons[i]),
            stats=stats, edges=edges))
    out.sort(key=lambda f: (-f.risk, f.cluster_id))
    return out
