"""How long linking takes on a real store: profile, score, candidate edges, graph, operations.

    distillwatch simulate --out /tmp/l100k/sim --scenario large --accounts 100000 --days 1 \\
        --seed 41
    distillwatch scan /tmp/l100k/sim/traffic.jsonl.gz --accounts /tmp/l100k/sim/accounts.jsonl \\
        --out /tmp/l100k/scan --db /tmp/l100k/scan.duckdb
    python bench/link_scale.py /tmp/l100k/scan.duckdb      # writes bench/results/link_scale.json

Runs the stages after ingest on a store that ``scan`` filled (the same code as ``scan``), and
reports seconds per step, the sizes of what each step made, and this process's peak resident
memory. Linking proper is ``candidate_edges`` + ``link_graph`` + scoring the groups
(``link_scores`` runs all three again, end to end, as ``scan`` does).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from distillwatch.detect import HARVESTING, AccountScorer
from distillwatch.ingest import Store
from distillwatch.link import candidate_edges, link_graph
from distillwatch.profile import account_profiles
from distillwatch.scan import link_scores

RESULTS = Path(__file__).resolve().parent / "results"


def measure(db: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"db": str(db)}
    with Store(db) as store:
        counts = store.query_arrow(
            "SELECT COUNT(*) AS calls, COUNT(DISTINCT account_id) AS accounts FROM calls")
        out.update(counts.to_pylist()[0])
        t = time.perf_counter()
        profiles = account_profiles(store)
        out["profile_s"] = time.perf_counter() - t
        t = time.perf_counter()
        scorer = AccountScorer().fit(profiles)
        scores = scorer.score(profiles)
        out["score_s"] = time.perf_counter() - t
        flagged = [a for a, v in zip(scores.account_ids, scores.verdicts, strict=True)
                   if v == HARVESTING]
        out["harvesting"] = len(flagged)
        t = time.perf_counter()
        edges, _ = candidate_edges(store, flagged=flagged)
        out["candidate_edges_s"] = time.perf_counter() - t
        out["edge_rows"] = edges.num_rows
        t = time.perf_counter()
        linking = link_graph(edges)
        out["graph_s"] = time.perf_counter() - t
        out["kept_edges"] = linking.kept_edges
        out["groups"] = len(linking.clusters)
        out["linked_accounts"] = len(linking.membership)
        t = time.perf_counter()
        _, clusters, findings = link_scores(store, scorer, scores)
        out["link_stage_s"] = time.perf_counter() - t
        out["operations"] = len(findings)
        out["accounts_in_operations"] = len(clusters)
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("db", type=Path, help="a store that `distillwatch scan` filled")
    parser.add_argument("--json", type=Path, default=RESULTS / "link_scale.json")
    args = parser.parse_args()
    result = measure(args.db)
    table = Table(title=f"linking, {result['accounts']:,} accounts, {result['calls']:,} calls")
    table.add_column("step")
    table.add_column("seconds", justify="right")
    table.add_column("made", justify="right")
    table.add_row("profile", f"{result['profile_s']:.1f}", f"{result['accounts']:,} profiles")
    table.add_row("score", f"{result['score_s']:.1f}", f"{result['harvesting']:,} harvesting")
    table.add_row("candidate edges (SQL)", f"{result['candidate_edges_s']:.1f}",
                  f"{result['edge_rows']:,} rows")
    table.add_row("graph (pool + Leiden)", f"{result['graph_s']:.1f}",
                  f"{result['kept_edges']:,} edges, {result['groups']:,} groups")
    table.add_row("link stage as scan runs it", f"{result['link_stage_s']:.1f}",
                  f"{result['operations']:,} operations")
    Console().print(table)
    print(f"peak resident memory: {result['peak_rss_mib']:,} MiB")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
