"""How many accounts driver-side linking holds: time the graph step on synthetic edge tables.

    python bench/leiden_scale.py [--accounts 100000 1000000] [--json FILE]

Builds a candidate-edge table shaped like the one the link stage collects (``src``, ``dst``,
``kind``, ``bucket``, ``strength``): 30% of accounts sit in linked groups of 2-60 members (rings,
companies, campuses), each member tied to up to five others in its group by two or three kinds
of evidence, plus weak single-kind edges across groups that the pooling step drops. Then runs
``link_graph`` (pooling in Python, igraph Leiden) and reports seconds per step and the peak
resident memory of this process. Writes bench/results/leiden_scale.json.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import time
from pathlib import Path
from typing import Any

import igraph as ig
import numpy as np
import pyarrow as pa

from distillwatch.link import link_graph
from distillwatch.link._graph import _pool, corroborating_kinds

RESULTS = Path(__file__).resolve().parent / "results"


def synthetic_edges(accounts: int, *, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    names = np.array([f"acct_{i:09d}" for i in range(accounts)], dtype=object)
    src: list[str] = []
    dst: list[str] = []
    kind: list[str] = []
    strength: list[float] = []
    linked = rng.permutation(accounts)[: int(0.3 * accounts)]
    start = 0
    while start < len(linked):
        size = int(rng.integers(2, 61))
        group = linked[start:start + size]
        start += size
        for i, a in enumerate(group):
            for b in rng.choice(group, size=min(5, len(group)), replace=False):
                if a == b:
                    continue
                x, y = sorted((names[a], names[b]))
                kinds = ("template", "payment", "address")[: int(rng.integers(2, 4))]
                for k in kinds:
                    src.append(x)
                    dst.append(y)
                    kind.append(k)
                    strength.append(float(rng.uniform(0.6, 1.0)))
            if i % 3 == 0:  # a weak cross-group edge (one user agent): pooled, then dropped
                other = names[int(rng.integers(accounts))]
                x, y = sorted((names[a], other))
                if x != y:
                    src.append(x)
                    dst.append(y)
                    kind.append("agent")
                    strength.append(1.0)
    n = len(src)
    return pa.table({"src": src, "dst": dst, "kind": kind,
                     "bucket": pa.array(np.full(n, 10), pa.int64()),
                     "strength": strength})


def measure(accounts: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    edges = synthetic_edges(accounts)
    t1 = time.perf_counter()
    pooled = _pool(edges)
    kept = [e for e in pooled if corroborating_kinds(e) >= 2 and e.score >= 1.6]
    t2 = time.perf_counter()
    names = sorted({e.src for e in kept} | {e.dst for e in kept})
    index = {name: i for i, name in enumerate(names)}
    graph = ig.Graph(n=len(names), edges=[(index[e.src], index[e.dst]) for e in kept])
    t3 = time.perf_counter()
    random.seed(0)
    graph.community_leiden(objective_function="modularity", weights=[e.score for e in kept],
                           resolution=0.05, n_iterations=-1)
    t4 = time.perf_counter()
    linking = link_graph(edges)
    t5 = time.perf_counter()
    return {
        "accounts": accounts, "edge_rows": edges.num_rows, "pooled_pairs": len(pooled),
        "kept_edges": len(kept), "graph_nodes": len(names), "clusters": len(linking.clusters),
        "seconds": {"build_table": round(t1 - t0, 2), "pool_and_filter": round(t2 - t1, 2),
                    "build_graph": round(t3 - t2, 2), "leiden": round(t4 - t3, 2),
                    "link_graph_total": round(t5 - t4, 2)},
        "peak_rss_mib_so_far": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--json", type=Path, default=RESULTS / "leiden_scale.json")
    args = parser.parse_args()
    rows = []
    for n in sorted(args.accounts):
        row = measure(n)
        print(json.dumps(row), flush=True)
        rows.append(row)
    args.json.write_text(json.dumps({
        "what": "driver-side link_graph on synthetic candidate edges",
        "command": "python bench/leiden_scale.py --accounts " + " ".join(map(str, args.accounts)),
        "machine": "2 cores, 24 GiB, shared with other workers (figures are upper bounds)",
        "igraph": ig.__version__, "runs": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
