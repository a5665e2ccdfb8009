"""Report outputs: the spec's files exactly, and a golden HTML case file."""

from __future__ import annotations

import csv
import os
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import orjson

from distillwatch.detect import Reason, ScoreResult
from distillwatch.findings import (
    AccountFinding,
    ClusterFinding,
    Example,
    ReasonEvidence,
    redact_text,
)
from distillwatch.link import Edge
from distillwatch.report import (
    ACCOUNTS_CSV_COLUMNS,
    render_report,
    write_accounts_csv,
    write_findings_jsonl,
)

GOLDEN = Path(__file__).parent / "golden" / "report.html"


def _finding() -> AccountFinding:
    return AccountFinding(
        account_id="acct_7f3a",
        risk=0.987654,
        verdict="harvesting",
        reasons=(
            ReasonEvidence("COT_ELICITATION", "share of calls that ask for step-by-step "
                           "reasoning: 96.0% (population median 0.0%)", 0.96, 0.0, 1.92),
            ReasonEvidence("MULTI_SAMPLE", "share of calls asking for n > 1 completions: "
                           "80.0% (population median 0.0%)", 0.8, 0.0, 1.5),
        ),
        stats={"n_calls": 1200, "completion_tokens": 2_400_000.0, "distinct_prompts": 1190,
               "active_days": 3, "distinct_keys": 2, "distinct_ip_prefixes": 9,
               "distinct_user_agents": 4, "distinct_models": 1,
               "first_seen": "2026-09-01T00:00:00Z", "last_seen": "2026-09-03T23:00:00Z"},
        timeline=({"day": "2026-09-01", "calls": 400, "prompt_tokens": 1.0,
                   "completion_tokens": 800_000.0},
                  {"day": "2026-09-02", "calls": 500, "prompt_tokens": 1.0,
                   "completion_tokens": 1_000_000.0}),
        examples=(Example("req_1", "2026-09-01T00:00:01Z", "model-a",
                          "Think step by step.", "What is 17 * 23? <script>x</script>",
                          "Let me work through it...", {"n": 4, "max_tokens": 8000}),),
    )


def _cluster() -> ClusterFinding:
    edges = (Edge("acct_7f3a", "acct_91bc", 2.0, {"template": 1.0, "payment": 1.0}),
             Edge("acct_91bc", "acct_c0de", 1.6, {"template": 1.0, "shape": 1.0}))
    return ClusterFinding(
        cluster_id="ring-0123456789ab", risk=0.999, verdict="harvesting",
        members=("acct_7f3a", "acct_91bc", "acct_c0de"),
        member_verdicts={"acct_7f3a": "harvesting", "acct_91bc": "harvesting",
                         "acct_c0de": "suspicious"},
        edges_by_kind={"template": 2, "payment": 1, "shape": 1},
        strongest_edges=edges,
        reasons=(ReasonEvidence("HIGH_VOLUME", "calls not attributed to an end-user id: "
                                "3,600 (population median 120)", 3600.0, 120.0, 1.2),),
        stats={"n_calls": 3600, "completion_tokens": 7_200_000.0, "distinct_prompts": 3550,
               "first_seen": "2026-09-01T00:00:00Z", "last_seen": "2026-09-03T23:00:00Z"},
        edges=edges)


def _summary() -> dict[str, object]:
    return {"calls": 5000, "accounts": 12, "harvesting": 1, "suspicious": 0, "bad_lines": 1,
            "bad_examples": ["t.jsonl:7: ts: must be an RFC 3339 timestamp"],
            "first_seen": "2026-09-01 00:00", "last_seen": "2026-09-03 23:00",
            "files": ["t.jsonl"], "redacted": False, "clusters": 1}


def test_report_matches_the_golden_file() -> None:
    html = render_report([_finding()], _summary(), clusters=[_cluster()],
                         generated_at=datetime(2026, 11, 25, 12, 0, tzinfo=UTC))
    if os.environ.get("DISTILLWATCH_UPDATE_GOLDEN"):
        GOLDEN.write_text(html, encoding="utf-8")
    assert html == GOLDEN.read_text(encoding="utf-8")


def test_report_escapes_text_and_is_self_contained() -> None:
    html = render_report([_finding()], _summary(), clusters=[_cluster()])
    assert 'id="dw-clu-' in html and "<line" in html and "ring-0123456789ab" in html
    assert "<script>x</script>" not in html and "&lt;script&gt;" in html
    assert "http://" not in html and "https://" not in html
    assert 'id="dw-acc-' in html and "<svg" in html


def test_accounts_csv_has_the_spec_columns_and_every_account(tmp_path: Path) -> None:
    scores = ScoreResult(
        ["b", "a", "c"], np.array([0.2, 0.9, 0.01]), ["suspicious", "harvesting", "normal"],
        [[Reason("TOP_LOGPROBS", "", 1.0, 0.0, 2.0)],
         [Reason("COT_ELICITATION", "", 1.0, 0.0, 2.0), Reason("MULTI_SAMPLE", "", 1, 0, 1)],
         []])
    path = tmp_path / "accounts.csv"
    write_accounts_csv(path, scores, {"a": "ring-1"})
    with path.open() as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0].keys()) == ACCOUNTS_CSV_COLUMNS
    assert [r["account_id"] for r in rows] == ["a", "b", "c"]
    assert rows[0] == {"account_id": "a", "risk": "0.900000", "verdict": "harvesting",
                       "cluster_id": "ring-1", "top_reasons": "COT_ELICITATION;MULTI_SAMPLE"}
    assert rows[2]["cluster_id"] == "" and rows[2]["top_reasons"] == ""


def test_findings_jsonl_carries_the_evidence(tmp_path: Path) -> None:
    path = tmp_path / "findings.jsonl"
    write_findings_jsonl(path, [_finding()])
    (line,) = path.read_bytes().splitlines()
    obj = orjson.loads(line)
    assert obj["account_id"] == "acct_7f3a" and obj["verdict"] == "harvesting"
    assert obj["finding_id"].startswith("dw-acc-")
    assert obj["reasons"][0]["code"] == "COT_ELICITATION"
    assert obj["examples"][0]["request_id"] == "req_1"
    assert obj["timeline"][1]["calls"] == 500


def test_redaction_keeps_only_hash_and_length() -> None:
    out = redact_text("my secret prompt")
    assert out is not None and "secret" not in out and "16 chars" in out
