"""The benchmark runner's scoring on hand-written outputs, and its "not available" paths."""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from rich.console import Console

from distillwatch.bench import (
    HARD_NEGATIVE_PROFILES,
    NOT_AVAILABLE,
    BenchConfig,
    StepResult,
    _runner,
    build_table,
    cost_section,
    default_json_path,
    evaluate,
    run_bench,
    write_json,
)

LABELS = [
    ("b1", "benign", None, "consumer_chat"),
    ("b2", "benign", None, "consumer_chat"),
    ("b3", "benign", None, "consumer_chat"),
    ("n1", "benign", None, "batch_job"),
    ("h1", "harvester", "c1", "ring"),
    ("h2", "harvester", "c1", "ring"),
    ("h3", "harvester", "c2", "bulk_sweep"),
]
# h3 is missing (a contract violation, scored as risk 0 / normal); x9 is not labelled.
ACCOUNTS_CSV = """account_id,risk,verdict,cluster_id,top_reasons
b1,0.1,normal,,
b2,0.2,normal,,
b3,0.7,normal,K,shared_payment
n1,0.6,suspicious,,high_volume
h1,0.9,harvesting,K,sweep;shared_payment
h2,0.7,suspicious,K,shared_payment
x9,0.5,normal,,
"""
# (account, request_id, ts, completion tokens), deliberately out of time order.
TRAFFIC = [
    ("h1", "h1-r4", "2025-01-01T01:00:00Z", 40),
    ("h1", "h1-r1", "2025-01-01T00:00:10Z", 10),
    ("h1", "h1-r3", "2025-01-01T00:00:20Z", 30),
    ("h1", "h1-r2", "2025-01-01T00:00:20Z", 20),
    ("h2", "h2-r1", "2025-01-01T02:00:00Z", 5),
    ("h2", "h2-r2", "2025-01-01T03:00:00Z", 5),
    ("h3", "h3-r1", "2025-01-01T04:00:00Z", 100),
    ("b1", "b1-r1", "2025-01-01T00:00:00Z", 7),
    ("b2", "b2-r1", "2025-01-03T01:00:00+01:00", 7),  # 2025-01-03T00:00Z: two days in all
]
ALERTS = [
    ("h1", "h1-r4", "2025-01-01T01:00:00Z"),
    ("h1", "h1-r3", "2025-01-01T00:00:20Z"),
    ("h2", "h2-r1", "2025-01-01T02:00:00Z"),
    ("b1", "b1-r1", "2025-01-01T00:00:00Z"),
    ("b1", "b1-r1", "2025-01-01T00:00:00Z"),
    ("n1", "n1-rX", "2025-01-01T00:00:00Z"),
    ("ghost", "g-r1", "2025-01-01T00:00:00Z"),
]


def _record(account: str, request_id: str, ts: str, tokens: int) -> dict[str, Any]:
    return {
        "ts": ts, "request_id": request_id, "account_id": account,
        "endpoint": "/v1/chat/completions", "status": 200,
        "request": {"model": "m", "messages": [{"role": "user", "content": "hi"}]},
        "response": {"choices": [{"message": {"content": "x"}}],
                     "usage": {"prompt_tokens": 1, "completion_tokens": tokens}},
    }


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    sim = tmp_path / "sim"
    sim.mkdir()
    (sim / "labels.jsonl").write_bytes(b"".join(
        orjson.dumps({"account_id": a, "label": lab, "campaign": c, "profile": p}) + b"\n"
        for a, lab, c, p in LABELS
    ))
    with gzip.open(sim / "traffic.jsonl.gz", "wb") as handle:
        for row in TRAFFIC:
            handle.write(orjson.dumps(_record(*row)) + b"\n")
    (tmp_path / "scan").mkdir()
    (tmp_path / "scan" / "accounts.csv").write_text(ACCOUNTS_CSV)
    (tmp_path / "alerts.jsonl").write_bytes(b"".join(
        orjson.dumps({"ts": ts, "account_id": a, "request_id": r, "risk": 0.9,
                      "action": "flag", "reasons": ["x"]}) + b"\n"
        for a, r, ts in ALERTS
    ))
    return tmp_path


def _full(suite: Path) -> dict[str, Any]:
    return evaluate(suite / "sim", suite / "scan" / "accounts.csv", suite / "alerts.jsonl")


def _by(rows: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {row[key]: row for row in rows}


def test_evaluate_account_level(suite: Path) -> None:
    acc = _full(suite)["account_level"]
    assert (acc["n_benign"], acc["n_harvester"]) == (4, 3)
    # Positives 0.9, 0.7, 0 (missing) vs negatives 0.1, 0.2, 0.7, 0.6: 4 + 3.5 + 0 of 12.
    assert acc["auroc"]["value"] == pytest.approx(7.5 / 12)
    low = acc["tpr_at_fpr"][0]
    assert low["target_fpr"] == 0.001 and low["max_false_positives"] == 0
    assert low["tpr"] == pytest.approx(1 / 3) and low["threshold"] == 0.9
    assert acc["at_verdict"] == pytest.approx({
        "tpr_harvesting": 1 / 3, "fpr_harvesting": 0.0, "tpr_flagged": 2 / 3,
        "fpr_flagged": 1 / 4,
    })
    assert acc["contract"]["missing_from_scan"] == 1
    assert acc["contract"]["missing_examples"] == ["h3"]
    assert acc["contract"]["not_in_labels"] == 1


def test_evaluate_per_profile(suite: Path) -> None:
    rows = _by(_full(suite)["per_profile"], "profile")
    assert [r["label"] for r in _full(suite)["per_profile"]] == [
        "harvester", "harvester", "benign", "benign"
    ]
    assert rows["ring"]["harvesting"] == 0.5 and rows["ring"]["flagged"] == 1.0
    assert rows["bulk_sweep"]["flagged"] == 0.0
    assert rows["batch_job"]["hard_negative"] is True
    assert rows["batch_job"]["measures"] == "false_positive_rate"
    assert rows["batch_job"]["flagged"] == 1.0 and rows["batch_job"]["harvesting"] == 0.0
    assert rows["consumer_chat"]["hard_negative"] is False
    assert "batch_job" in HARD_NEGATIVE_PROFILES


def test_evaluate_rings(suite: Path) -> None:
    rings = _full(suite)["rings"]
    # Cluster K = {h1, h2, b3} against campaign c1 = {h1, h2}; everything else singletons:
    # index 1, rows 1, cols 3, C(7,2)=21, expected 1/7, max 2: (6/7) / (13/7) = 6/13.
    assert rings["ari"]["value"] == pytest.approx(6 / 13)
    assert rings["n_multi_member_campaigns"] == 1
    (c1,) = rings["campaigns"]
    assert c1["campaign"] == "c1" and c1["members"] == 2
    assert c1["flagged_share"] == 1.0 and c1["same_cluster_share"] == 1.0
    assert c1["cluster_id"] == "K" and c1["cluster_outsiders"] == 1


def test_evaluate_time_to_detect(suite: Path) -> None:
    out = _full(suite)
    assert out["suite"]["calls"] == len(TRAFFIC)
    assert out["suite"]["days"] == pytest.approx(2.0)
    ttd = out["time_to_detect"]
    rows = _by(ttd["per_profile"], "profile")
    # h1: order r1, r2, r3 (alerted), so 3 calls after 10 + 20 tokens; h2: its first call.
    ring = rows["ring"]
    assert (ring["alerted"], ring["never_alerted_share"]) == (2, 0.0)
    assert ring["calls_median"] == 2.0 and ring["calls_p90"] == pytest.approx(2.8)
    assert ring["tokens_median"] == 15.0 and ring["tokens_p90"] == pytest.approx(27.0)
    sweep = rows["bulk_sweep"]
    assert sweep["never_alerted_share"] == 1.0 and sweep["calls_median"] is None
    assert sweep["why"]
    benign = ttd["benign_alerts"]
    assert (benign["alerts"], benign["accounts_alerted"]) == (3, 2)
    assert benign["per_1000_accounts_per_day"] == pytest.approx(3 / (4 / 1000) / 2)
    assert ttd["contract"] == {
        "alerts_unknown_account": 1, "alerts_unknown_request": 0, "bad_lines": 0
    }


def test_missing_scan_output_gives_not_available(suite: Path) -> None:
    (suite / "scan" / "accounts.csv").unlink()
    out = evaluate(suite / "sim", suite / "scan" / "accounts.csv", None,
                   watch_why="`distillwatch watch` not available")
    acc = out["account_level"]
    assert acc["auroc"]["value"] is None and "missing" in acc["auroc"]["why"]
    assert all(r["tpr"] is None and r["why"] for r in acc["tpr_at_fpr"])
    assert acc["at_verdict"]["tpr_flagged"] is None and acc["at_verdict"]["why"]
    assert acc["contract"]["missing_from_scan"] is None
    assert all(r["harvesting"] is None and r["why"] for r in out["per_profile"])
    assert out["rings"]["ari"]["value"] is None
    assert all(r["flagged_share"] is None for r in out["rings"]["campaigns"])
    ttd = out["time_to_detect"]
    assert all(r["calls_median"] is None and "watch" in r["why"] for r in ttd["per_profile"])
    assert ttd["benign_alerts"]["per_1000_accounts_per_day"] is None
    # The suite itself is still described.
    assert out["suite"]["calls"] == len(TRAFFIC)

    text = _render(out)
    assert NOT_AVAILABLE in text
    assert "AUROC" in text


def test_failed_step_reason_wins_over_stale_file(suite: Path) -> None:
    out = evaluate(suite / "sim", suite / "scan" / "accounts.csv", suite / "alerts.jsonl",
                   scan_why="`distillwatch scan` failed (exit 1)")
    assert out["account_level"]["auroc"]["why"] == "`distillwatch scan` failed (exit 1)"
    assert out["time_to_detect"]["per_profile"][0]["alerted"] is not None


def test_missing_labels_gives_not_available(tmp_path: Path) -> None:
    out = evaluate(tmp_path, None, None)
    assert out["account_level"]["auroc"]["value"] is None
    assert out["per_profile"] == [] and out["suite"]["calls"] is None
    assert "labels missing" in out["suite"]["why"]


EXPECTED_KEYS = {
    "schema", "command", "date", "machine", "distillwatch_version", "size", "seed", "corpora",
    "workdir", "suite", "account_level", "per_profile", "rings", "time_to_detect", "cost",
    "steps",
}


def _render(report: dict[str, Any]) -> str:
    console = Console(record=True, width=200)
    console.print(build_table(report))
    return console.export_text()


def test_run_bench_without_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A CLI whose every subcommand is missing: the suite still runs and says why.
    fake = [sys.executable, "-c", "import sys; print('no such command', file=sys.stderr); "
            "sys.exit(2)"]
    monkeypatch.setattr(_runner, "find_cli", lambda: fake)
    out_json = tmp_path / "out" / "small.json"
    work = tmp_path / "work"
    console = Console(record=True, width=200, file=open("/dev/null", "w"))  # noqa: SIM115
    report = run_bench(
        BenchConfig(size="small", json_path=out_json, workdir=work, command=["test"]), console
    )
    console.file.close()
    written = json.loads(out_json.read_text())
    assert set(written) == EXPECTED_KEYS
    assert written["steps"]["simulate"]["available"] is False
    assert "no such command" in written["steps"]["simulate"]["why"]
    assert written["steps"]["scan"]["why"].startswith("no suite to run on")
    assert written["account_level"]["auroc"]["value"] is None
    assert written["cost"]["scan"]["calls_per_s"] is None and written["cost"]["scan"]["why"]
    assert written["machine"]["cores"] >= 1
    assert report["size"] == "small"
    assert NOT_AVAILABLE in console.export_text()
    assert not (work / "sim").exists() and not (work / "logs").exists()


def test_cost_section() -> None:
    steps = {
        "scan": StepResult("scan", True, ok=True, exit_code=0, wall_s=2.0, peak_rss_mib=100.0),
        "watch": StepResult("watch", False, why="`distillwatch watch` not available"),
    }
    cost = cost_section(steps, 1000)
    assert cost["scan"] == {"wall_s": 2.0, "calls_per_s": 500.0, "peak_rss_mib": 100.0}
    assert cost["watch"]["calls_per_s"] is None and "watch" in cost["watch"]["why"]
    assert cost["simulate"]["why"] == "simulate did not run"


def test_run_measured_reports_the_child(tmp_path: Path) -> None:
    # The child allocates ~60 MiB; the figure is the child's, not this test process's.
    code = "x = bytearray(60 * 1024 * 1024); x[::4096] = b'1' * len(x[::4096])"
    result = _runner.run_measured("t", [sys.executable, "-c", code], tmp_path / "t.log")
    assert result.ok and result.exit_code == 0
    assert result.peak_rss_mib is not None and 60 <= result.peak_rss_mib < 400
    assert result.wall_s is not None and result.wall_s > 0
    failed = _runner.run_measured("t", [sys.executable, "-c", "raise SystemExit(3)"],
                                  tmp_path / "f.log")
    assert not failed.ok and failed.exit_code == 3 and "exit 3" in (failed.why or "")


def test_write_json_nulls_non_finite(tmp_path: Path) -> None:
    write_json({"a": float("inf"), "b": [float("nan"), 1.0]}, tmp_path / "x.json")
    assert json.loads((tmp_path / "x.json").read_text()) == {"a": None, "b": [None, 1.0]}


def test_default_json_path(tmp_path: Path) -> None:
    assert default_json_path("small", tmp_path / "w", cwd=tmp_path) == tmp_path / "w/bench.json"
    repo = Path(__file__).resolve().parents[1]
    assert default_json_path("medium", tmp_path, cwd=repo / "src") == (
        repo / "bench" / "results" / "medium.json"
    )
