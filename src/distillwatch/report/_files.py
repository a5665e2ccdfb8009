"""The spec's machine-readable outputs: ``accounts.csv`` and ``findings.jsonl``."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import orjson

from distillwatch.detect import ScoreResult
from distillwatch.findings import AccountFinding, ClusterFinding

__all__ = ["ACCOUNTS_CSV_COLUMNS", "write_accounts_csv", "write_findings_jsonl"]

ACCOUNTS_CSV_COLUMNS = ("account_id", "risk", "verdict", "cluster_id", "top_reasons")


def write_accounts_csv(path: Path, scores: ScoreResult,
                       clusters: dict[str, str] | None = None) -> int:
    """One row for every account seen, riskiest first; returns the number of rows."""
    clusters = clusters or {}
    order = sorted(range(len(scores.account_ids)),
                   key=lambda i: (-float(scores.risk[i]), scores.account_ids[i]))
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(ACCOUNTS_CSV_COLUMNS)
        for i in order:
            acc = scores.account_ids[i]
            writer.writerow([
                acc,
                f"{float(scores.risk[i]):.6f}",
                scores.verdicts[i],
                clusters.get(acc, ""),
                ";".join(r.code for r in scores.reasons[i]),
            ])
    return len(order)


def write_findings_jsonl(path: Path,
                         findings: Sequence[AccountFinding | ClusterFinding]) -> int:
    """One JSON object per finding, in the order given."""
    with path.open("wb") as fh:
        for finding in findings:
            fh.write(orjson.dumps(finding.properties()) + b"\n")
    return len(findings)
