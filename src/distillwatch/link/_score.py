"""Score each linked group as one operation: its members' calls pooled into one profile.

A ring of 200 accounts with 2,000 calls each is a 400,000-call operation: the cluster's calls
are regrouped under the cluster id and profiled with the same SQL as accounts, then scored by
the same model against the accounts' own population baselines.
"""

from __future__ import annotations

import pyarrow as pa

from distillwatch.detect import HARVESTING, NORMAL, AccountScorer, ScoreResult
from distillwatch.engine import Tables
from distillwatch.features import CALL_FEATURES_SCHEMA
from distillwatch.link._graph import Linking
from distillwatch.profile import account_profiles

__all__ = ["score_clusters"]

#: The calls of clustered accounts under their cluster's id (columns listed from the schema:
#: ``* REPLACE`` is DuckDB's alone).
_CLUSTER_CALLS_SQL = (
    "SELECT " + ", ".join("m.cluster_id AS account_id" if f.name == "account_id" else f"c.{f.name}"
                          for f in CALL_FEATURES_SCHEMA)
    + " FROM calls c JOIN _membership m ON m.account_id = c.account_id"
)

_CLUSTER_ACCOUNTS_SQL = """
    SELECT m.cluster_id AS account_id, MIN(a.created_at) AS created_at,
        MIN(a.payment_fingerprint) AS payment_fingerprint, MIN(a.email_domain) AS email_domain,
        MIN(a.country) AS country, MIN(a.tier) AS tier,
        COALESCE(BOOL_AND(a.allowlisted), FALSE) AS allowlisted
    FROM _membership m LEFT JOIN accounts a ON a.account_id = m.account_id
    GROUP BY m.cluster_id
"""


def _regroup_partials(store: Tables, partials: str) -> str:
    """Views ``_cluster_<partial>``: each stored partial with members under their cluster id.

    Every partial merges by summing or uniting over its keys, so a cluster's partials are its
    members' partials relabelled; returns the new prefix.
    """
    from distillwatch.profile import PARTIALS

    for name in PARTIALS:
        columns = store.query_arrow(f"SELECT * FROM {partials}{name} LIMIT 0").schema.names
        select = ", ".join("m.cluster_id AS account_id" if c == "account_id" else f"p.{c}"
                           for c in columns)
        store.create_view(f"_cluster_{name}", f"SELECT {select} FROM {partials}{name} p "
                          "JOIN _membership m ON m.account_id = p.account_id")
    return "_cluster_"


def score_clusters(store: Tables, linking: Linking, scorer: AccountScorer,
                   members: ScoreResult, *, min_harvesting_share: float = 0.5,
                   partials: str | None = None) -> tuple[pa.Table, ScoreResult] | None:
    """Profiles and scores of every cluster (``account_id`` holds the cluster id).

    A cluster's risk is that of its pooled calls, but it is an operation (verdict other than
    ``normal``) only when at least ``min_harvesting_share`` of its members are ``harvesting``
    in their own right: pooling a company's honest team keys makes a big account, not a
    harvester, and a few apps built on the same boilerplate that each look a little unusual
    are not a ring. With ``partials`` (a table-name prefix) the members' stored per-day
    partials of an incremental scan are pooled instead of their calls.
    """
    if not linking.membership:
        return None
    membership = pa.table({"account_id": list(linking.membership),
                           "cluster_id": list(linking.membership.values())})
    store.register_table("_membership", membership)
    store.create_view("_cluster_accounts", _CLUSTER_ACCOUNTS_SQL)
    if partials is None:
        store.create_view("_cluster_calls", _CLUSTER_CALLS_SQL)
        profiles = account_profiles(store, calls="_cluster_calls", accounts="_cluster_accounts")
    else:
        profiles = account_profiles(store, accounts="_cluster_accounts",
                                    partials=_regroup_partials(store, partials))
    scores = scorer.score(profiles)
    flagged = {a for a, v in zip(members.account_ids, members.verdicts, strict=True)
               if v == HARVESTING}
    size: dict[str, int] = {}
    hits: dict[str, int] = {}
    for account, cid in linking.membership.items():
        size[cid] = size.get(cid, 0) + 1
        hits[cid] = hits.get(cid, 0) + (account in flagged)
    verdicts = [v if hits.get(cid, 0) >= min_harvesting_share * size.get(cid, 1) else NORMAL
                for cid, v in zip(scores.account_ids, scores.verdicts, strict=True)]
    return profiles, ScoreResult(scores.account_ids, scores.risk, verdicts, scores.reasons)
