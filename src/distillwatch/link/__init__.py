"""link: accounts into operations (sybil rings, proxy networks), and each operation's score.

Edge discovery (``_edges``: SQL blocking keys over the store) is kept apart from the graph code
(``_graph``: pure functions over an edge table) and from scoring (``_score``).
"""

from distillwatch.link._edges import (
    EDGE_KINDS,
    EdgeKind,
    EdgePolicy,
    candidate_edges,
    key_counts_sql,
)
from distillwatch.link._graph import Cluster, Edge, Linking, cluster_name, link_graph
from distillwatch.link._inherit import inherit_cluster_risk
from distillwatch.link._score import score_clusters

__all__ = [
    "EDGE_KINDS",
    "Cluster",
    "Edge",
    "EdgeKind",
    "EdgePolicy",
    "Linking",
    "candidate_edges",
    "cluster_name",
    "inherit_cluster_risk",
    "key_counts_sql",
    "link_graph",
    "score_clusters",
]
