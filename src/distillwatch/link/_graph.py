"""From evidence edges to linked groups: pure graph code over an edge table.

Edges of several kinds between the same two accounts are pooled into one score (each kind's
weight times its strength). No single kind may decide alone: an edge is kept only when at least
``min_kinds`` kinds agree and the pooled score reaches ``min_score``, because rotating proxies
and spoofed agents are common and big honest customers share cloud ranges and SDK agents.
Communities are then found with Leiden and named by a hash of their members, so the same group
gets the same id in every run. The objective is the constant Potts model, not modularity: a group
is kept together only while its members are linked to each other more densely than
``resolution`` (in edge-score units per pair). Modularity has no such floor; it merged a
10-account ring into a 300-account one through a few hundred sign-up coincidences, and pulled
lone harvesters into a ring through two or three edges each, since a node with a handful of edges
into a big group and none elsewhere always raises modularity by joining it.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import igraph as ig
import pyarrow as pa

from distillwatch.link._edges import EDGE_KINDS, EdgePolicy

__all__ = ["Cluster", "Edge", "Linking", "cluster_name", "corroborating_kinds", "link_graph",
           "pooled_score"]

_KIND = {k.name: k for k in EDGE_KINDS}

@dataclass(frozen=True)
class Edge:
    """Pooled evidence between two accounts: the score and each kind's strength."""

    src: str
    dst: str
    score: float
    kinds: dict[str, float]

    def properties(self) -> dict[str, Any]:
        return {"accounts": [self.src, self.dst], "score": round(self.score, 4),
                "kinds": {k: round(v, 4) for k, v in sorted(self.kinds.items())}}


@dataclass
class Cluster:
    """One linked group: its members, the edges inside it, and their kinds."""

    cluster_id: str
    members: list[str]
    edges: list[Edge] = field(default_factory=list)

    def edges_by_kind(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for edge in self.edges:
            counts.update(edge.kinds.keys())
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    def strongest(self, n: int = 10) -> list[Edge]:
        return sorted(self.edges, key=lambda e: (-e.score, e.src, e.dst))[:n]


@dataclass
class Linking:
    """Every cluster found, and each member's cluster id."""

    clusters: list[Cluster]
    membership: dict[str, str]
    candidate_pairs: int = 0
    kept_edges: int = 0


def _pool(edges: pa.Table) -> list[Edge]:
    kinds: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for src, dst, kind, s in zip(edges.column("src").to_pylist(),
                                 edges.column("dst").to_pylist(),
                                 edges.column("kind").to_pylist(),
                                 edges.column("strength").to_pylist(), strict=True):
        if s > 0 and kind in _KIND:
            kinds[(src, dst)][kind] = float(s)
    pooled = []
    for (src, dst), per_kind in kinds.items():
        score = pooled_score(per_kind)
        pooled.append(Edge(src, dst, score, per_kind))
    return pooled


def pooled_score(kinds: dict[str, float]) -> float:
    """An edge's score: each kind's weight times its strength, summed and rounded to 1e-9 so
    that the order of the sum (which differs between engines and runs) never moves an edge
    across a threshold."""
    return round(sum(_KIND[k].weight * s for k, s in sorted(kinds.items())), 9)


def corroborating_kinds(edge: Edge, *, min_strength: float = EdgePolicy.min_strength) -> int:
    """Independent families of evidence on an edge (weak kinds such as user agents excluded;
    kinds of one family, such as template and request shape, count once)."""
    return len({_KIND[k].evidence_family for k, s in edge.kinds.items()
                if _KIND[k].corroborates and s >= min_strength})


def cluster_name(members: list[str]) -> str:
    """A stable id for a group: ``ring-`` and a hash of its sorted members."""
    digest = hashlib.sha256("\n".join(sorted(members)).encode()).hexdigest()
    return f"ring-{digest[:12]}"


def link_graph(edges: pa.Table, *, min_score: float = EdgePolicy.min_score,
               min_kinds: int = EdgePolicy.min_kinds, resolution: float = 0.1,
               seed: int = 0) -> Linking:
    """Pool edges per pair, keep the corroborated ones, and find communities with Leiden.

    ``resolution`` is the constant Potts model's density floor: the mean edge score per pair
    of members a group must beat (0.1: one edge of score 2.5 for every 25 pairs). It was chosen
    on simulated populations the benchmark does not use (scenario ``medium``, seeds 31 and 33,
    where 0.1 and 0.2 gave the same groups; the lower one keeps sparser rings whole).
    """
    pooled = _pool(edges)
    kept = [e for e in pooled
            if corroborating_kinds(e) >= min_kinds and e.score >= min_score]
    if not kept:
        return Linking([], {}, len(pooled), 0)
    names = sorted({e.src for e in kept} | {e.dst for e in kept})
    index = {name: i for i, name in enumerate(names)}
    graph = ig.Graph(n=len(names), edges=[(index[e.src], index[e.dst]) for e in kept])
    weights = [e.score for e in kept]
    random.seed(seed)  # igraph's Leiden draws from Python's random module
    parts = graph.community_leiden(objective_function="CPM", weights=weights,
                                   resolution=resolution, n_iterations=-1)
    groups: dict[int, list[str]] = defaultdict(list)
    for name, part in zip(names, parts.membership, strict=True):
        groups[part].append(name)
    clusters: list[Cluster] = []
    membership: dict[str, str] = {}
    for members in groups.values():
        if len(members) < 2:
            continue
        cluster = Cluster(cluster_name(members), sorted(members))
        for m in members:
            membership[m] = cluster.cluster_id
        clusters.append(cluster)
    by_id = {c.cluster_id: c for c in clusters}
    for e in kept:
        cid = membership.get(e.src)
        if cid is not None and membership.get(e.dst) == cid:
            by_id[cid].edges.append(e)
    clusters.sort(key=lambda c: (-len(c.members), c.cluster_id))
    return Linking(clusters, membership, len(pooled), len(kept))
