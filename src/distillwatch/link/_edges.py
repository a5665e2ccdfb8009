"""Evidence edges between accounts, found through blocking keys (never all pairs).

The key and pair SQL runs unchanged on DuckDB and on Spark (through ``engine.Tables``): pairs
come from a self-join on (kind, key) inside buckets, so on a cluster they are a shuffle join,
and only the pooled, filtered edges travel to the driver for the graph step.

Each account gets a small set of keys per kind: the networks and addresses it calls from, its
user agents, the template ends and system prompts it uses repeatedly, and from the accounts
file its payment fingerprint, e-mail domain and sign-up hour. Accounts that share a key are a
candidate pair. A shared key counts for little when many accounts share it (an SDK's user
agent, gmail.com, a cloud range), so each kind's weight for a pair is the inverse-frequency of
the rarest key they share (see ``_graph.strength``); keys shared by more than ``max_bucket``
accounts make no pairs at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pyarrow as pa

from distillwatch.engine import Tables
from distillwatch.ingest import ACCOUNTS_SCHEMA

__all__ = ["EDGE_KINDS", "EdgeKind", "EdgePolicy", "candidate_edges", "key_counts_sql"]


@dataclass(frozen=True)
class EdgeKind:
    """One kind of evidence: its weight in an edge's score and how to explain it.

    ``corroborates`` says whether the kind counts toward the independent kinds an edge needs:
    a user agent or a /24 is shared by whole customer bases (one SDK, one cloud), so it adds
    to an edge's score but never makes an edge on its own terms. ``family`` groups kinds that
    are not independent of each other: a prompt template and a request shape both describe
    the client program, and unrelated operations running the same public harvesting script
    share both, so together they count as one corroborating family, not two.
    """

    name: str
    weight: float
    text: str
    corroborates: bool = True
    family: str = ""

    @property
    def evidence_family(self) -> str:
        return self.family or self.name


EDGE_KINDS: tuple[EdgeKind, ...] = (
    EdgeKind("template", 1.0, "same prompt template or system prompt used repeatedly",
             family="client"),
    EdgeKind("payment", 1.0, "same payment fingerprint"),
    EdgeKind("address", 0.7, "same client address"),
    EdgeKind("signup", 0.6, "signed up within about two hours of each other"),
    EdgeKind("email", 0.5, "same e-mail domain"),
    EdgeKind("shape", 0.6, "same request shape (parameter order and values)", family="client"),
    EdgeKind("agents", 0.8, "same set of user agents in rotation"),
    EdgeKind("pivot", 0.6, "moved to a newly released model within about two hours of each "
             "other"),
    EdgeKind("network", 0.3, "same /24 or /48 network", corroborates=False),
    EdgeKind("agent", 0.2, "same user agent", corroborates=False),
)

#: Keys an account must use this many times before they say something about it.
MIN_KEY_CALLS = 3
#: An account's set of user agents is a fingerprint only when it rotates through this many:
#: one or two SDK agents are what every customer of that SDK sends.
AGENT_SET_MIN = 3

def _windows(table: str, prefix: str, column: str) -> str:
    """Two-hour windows, twice with a one-hour offset: events within about two hours of each
    other share a window whatever the clock, so a burst over days chains window to window
    instead of breaking at every bucket edge."""
    return f"""
    SELECT account_id, {prefix} || CAST(CAST({column} AS DATE) AS STRING) || 'a'
        || CAST(CAST(FLOOR(EXTRACT(HOUR FROM {column}) / 2) AS BIGINT) AS STRING) AS key
        FROM {table} WHERE {column} IS NOT NULL
    UNION ALL
    SELECT account_id, {prefix} || CAST(CAST({column} + INTERVAL 1 HOUR AS DATE) AS STRING)
        || 'b' || CAST(CAST(FLOOR(EXTRACT(HOUR FROM {column} + INTERVAL 1 HOUR) / 2)
                            AS BIGINT) AS STRING)
        FROM {table} WHERE {column} IS NOT NULL"""


#: (kind, key expression, condition): the keys an account's calls give it.
_CALL_KEYS: tuple[tuple[str, str, str], ...] = (
    ("address", "client_ip", "client_ip IS NOT NULL"),
    ("network", "ip_prefix", "ip_prefix IS NOT NULL"),
    ("agent", "user_agent", "user_agent IS NOT NULL"),
    ("shape", "concat_ws('|', param_keys, CAST(max_tokens AS STRING), "
              "CAST(CAST(ROUND(temperature * 1000) AS BIGINT) AS STRING), CAST(n AS STRING), "
              "CAST(top_logprobs AS STRING), reasoning_effort)", ""),
    ("template", "CAST(template_prefix AS STRING)", "template_prefix IS NOT NULL"),
    ("template", "CAST(template_suffix AS STRING)", "template_suffix IS NOT NULL"),
    ("template", "'s' || CAST(system_hash AS STRING)", "system_hash IS NOT NULL"),
)


def key_counts_sql(calls: str = "calls", *, by_day: bool = False) -> str:
    """(account_id[, day], kind, key, k): calls per account and key, from ``calls``.

    With ``by_day`` the counts are per day too (``calls`` must have a ``day`` column): the
    partials an incremental scan stores, which add up to the counts without it.
    """
    day = ", day" if by_day else ""
    group = "1, 2, 4" if by_day else "1, 3"
    return "\nUNION ALL\n".join(
        f"SELECT account_id{day}, '{kind}' AS kind, {expr} AS key, COUNT(*) AS k FROM {calls}"
        + (f" WHERE {cond}" if cond else "") + f" GROUP BY {group}"
        for kind, expr, cond in _CALL_KEYS)


_KEYS_TEMPLATE = f"""
WITH per_key AS (
__PER_KEY__
),
ranked AS (
    SELECT *, row_number() OVER (PARTITION BY account_id, kind ORDER BY k DESC, key) AS r
    FROM per_key WHERE k >= {MIN_KEY_CALLS}
),
agent_ids AS (
    SELECT key, DENSE_RANK() OVER (ORDER BY key) AS id
    FROM (SELECT DISTINCT key FROM per_key WHERE kind = 'agent') distinct_agents
),
model_firsts AS (
__MODEL_FIRSTS__
),
models AS (
    SELECT model, MIN(first_ts) AS released FROM model_firsts GROUP BY model
),
adoptions AS (
    -- first calls on a model that appeared after the log's first day: when each account
    -- moved to a newly released model
    SELECT f.account_id, f.model, f.first_ts
    FROM model_firsts f JOIN models m ON m.model = f.model
    WHERE m.released > (SELECT MIN(first_ts) FROM model_firsts) + INTERVAL 1 DAY
),
agent_sets AS (
    -- the set of agents an account rotates through, as power sums of the agents' ranks:
    -- equal sets give equal keys, and unlike an ordered string aggregate every engine
    -- computes them alike
    SELECT p.account_id, COUNT(*) AS m, SUM(i.id) AS s1, SUM(i.id * i.id) AS s2,
        SUM(i.id * i.id * i.id) AS s3
    FROM per_key p JOIN agent_ids i ON i.key = p.key
    WHERE p.kind = 'agent' AND p.k >= {MIN_KEY_CALLS}
    GROUP BY p.account_id HAVING COUNT(*) >= {AGENT_SET_MIN}
)
SELECT account_id, kind, key FROM ranked WHERE r <= ?
UNION ALL
SELECT account_id, 'agents', concat_ws(':', CAST(m AS STRING), CAST(s1 AS STRING),
    CAST(s2 AS STRING), CAST(s3 AS STRING)) FROM agent_sets
UNION ALL
SELECT account_id, 'payment', payment_fingerprint FROM accounts
    WHERE payment_fingerprint IS NOT NULL
UNION ALL
SELECT account_id, 'email', lower(email_domain) FROM accounts WHERE email_domain IS NOT NULL
UNION ALL
SELECT account_id, 'pivot', key FROM ({_windows("adoptions", "model || ' '", "first_ts")}
) pivot_windows
UNION ALL
SELECT account_id, 'signup', key FROM ({_windows("accounts", "''", "created_at")}
) signup_windows
"""

#: Key counts summed over the per-day partials of an incremental scan (``<prefix>keys``).
_MERGED_KEY_COUNTS = ("SELECT account_id, kind, key, CAST(SUM(k) AS BIGINT) AS k "
                      "FROM __P__keys GROUP BY account_id, kind, key")


#: Each account's first call on each model, from the calls or from an incremental scan's
#: per-day ``adoptions`` partials (the minimum of the days' minima).
_MODEL_FIRSTS = ("SELECT account_id, model, MIN(ts) AS first_ts FROM calls "
                 "WHERE model IS NOT NULL GROUP BY account_id, model")
_MERGED_MODEL_FIRSTS = ("SELECT account_id, model, MIN(first_ts) AS first_ts "
                        "FROM __P__adoptions GROUP BY account_id, model")


def _keys_sql(partials: str | None) -> str:
    per_key = (key_counts_sql() if partials is None
               else _MERGED_KEY_COUNTS.replace("__P__", partials))
    firsts = (_MODEL_FIRSTS if partials is None
              else _MERGED_MODEL_FIRSTS.replace("__P__", partials))
    return (_KEYS_TEMPLATE.replace("__PER_KEY__", per_key)
            .replace("__MODEL_FIRSTS__", firsts))


#: What sharing one key says about a pair, from how many honest accounts hold it (``common``).
_STRENGTH = """CASE WHEN {common} <= $rare OR $n <= $rare THEN 1.0
             ELSE GREATEST(0.0, LEAST(1.0, LN(CAST($n AS DOUBLE) / {common})
                                           / LN(CAST($n AS DOUBLE) / $rare))) END"""

_PAIRS_SQL = f"""
WITH keys AS (
    SELECT DISTINCT k.account_id, k.kind, k.key,
        CASE WHEN f.account_id IS NULL THEN 1 ELSE 0 END AS honest
    FROM _link_keys k LEFT JOIN _link_flagged f ON f.account_id = k.account_id
    WHERE k.account_id IN (SELECT account_id FROM _link_population)
),
buckets AS (
    SELECT kind, key, COUNT(*) AS size, CAST(SUM(honest) AS BIGINT) AS common
    FROM keys GROUP BY kind, key
),
usable AS (SELECT k.*, b.size, b.common FROM keys k JOIN buckets b USING (kind, key)
           WHERE b.size >= 2 AND b.common <= $max_bucket AND b.size <= $hard_cap),
anchor_keys AS (
    SELECT u.* FROM usable u JOIN _link_kinds w ON w.kind = u.kind
    WHERE w.anchors AND {_STRENGTH.format(common="u.common")} >= $anchor_strength
),
pairs AS (
    -- only pairs that share a key of an anchoring kind can become edges (see
    -- ``candidate_edges``); every kind is then looked up for those pairs alone
    SELECT DISTINCT a.account_id AS src, b.account_id AS dst
    FROM anchor_keys a JOIN anchor_keys b
        ON a.kind = b.kind AND a.key = b.key AND a.account_id < b.account_id
),
per_kind AS (
    SELECT p.src, p.dst, a.kind, MIN(a.size) AS bucket,
        {_STRENGTH.format(common="MIN(a.common)")} AS strength
    FROM pairs p JOIN usable a ON a.account_id = p.src
    JOIN usable b ON b.account_id = p.dst AND b.kind = a.kind AND b.key = a.key
    GROUP BY p.src, p.dst, a.kind
),
pooled AS (
    SELECT p.src, p.dst, ROUND(SUM(w.weight * p.strength), 9) AS score,
        COUNT(DISTINCT CASE WHEN w.corroborates AND p.strength >= $min_strength
                            THEN w.family END) AS kinds
    FROM per_kind p JOIN _link_kinds w ON w.kind = p.kind
    GROUP BY p.src, p.dst
)
SELECT p.src, p.dst, p.kind, p.bucket, p.strength
FROM per_kind p JOIN pooled q ON q.src = p.src AND q.dst = p.dst
WHERE q.score >= $min_score AND q.kinds >= $min_kinds
ORDER BY p.src, p.dst, p.kind
"""

#: A key held by at most this many accounts is full-strength evidence; past it, strength falls
#: with the log of how common the key is (inverse document frequency, rescaled so that a
#: ring-sized bucket still counts).
RARE_BUCKET = 50
#: ... but never more than this share of the population: in a population of 300 a key that
#: 30 accounts share (a stock system prompt, gmail.com) is common, not a fingerprint.
RARE_SHARE = 0.005


def rare_bucket(population: int) -> int:
    """Bucket size up to which a shared key counts fully, for a population of this size."""
    return int(min(RARE_BUCKET, max(2, round(RARE_SHARE * population))))


@dataclass(frozen=True)
class EdgePolicy:
    """When pooled evidence makes an edge (shared by the SQL prefilter and the graph code)."""

    min_score: float = 1.6
    min_kinds: int = 2
    min_strength: float = 0.5


def candidate_edges(store: Tables, *, flagged: Iterable[str] = (), keys_per_kind: int = 10,
                    max_bucket: int = 1000, hard_cap: int = 20000,
                    policy: EdgePolicy | None = None, partials: str | None = None,
                    ) -> tuple[pa.Table, int]:
    """(src, dst, kind, bucket, strength) per account pair and kind; and the population.

    Only pairs whose pooled evidence satisfies ``policy`` come back: pooling and filtering run
    in the engine, so memory follows the edges kept, not every pair that shares some key.

    ``bucket`` is the number of accounts holding the rarest key the pair shares, ``strength``
    what sharing it says, in [0, 1]. How common a key is counts only the accounts *not* in
    ``flagged`` (those already ``harvesting`` on their own evidence): a wrapper shared by a
    300-account ring and nobody else is rare among honest customers, and must not be discounted
    as boilerplate because the ring is big. ``hard_cap`` bounds the pairs any one key can make.
    With ``partials`` (a table-name prefix) the keys come from an incremental scan's stored
    per-day key counts instead of ``calls``.
    """
    store.ensure_accounts(ACCOUNTS_SCHEMA)  # a scan without an accounts file has none
    store.materialize("_link_keys", _keys_sql(partials), [keys_per_kind])
    store.create_view("_link_population", "SELECT DISTINCT account_id FROM "
                      + ("calls" if partials is None else f"{partials}base"))
    store.register_table("_link_flagged", pa.table({"account_id": pa.array(
        sorted(set(flagged)), pa.string())}))
    n = int(store.query_arrow("SELECT COUNT(*) AS n FROM _link_population").column(0)[0].as_py())
    policy = policy or EdgePolicy()
    # An edge needs ``min_kinds`` families of strength ``min_strength``; with two or more, one
    # of them is not the client family (template and request shape), whose keys are shared by
    # whole customer bases of one script or SDK. So pairs are first drawn from the keys of the
    # other corroborating kinds that are strong enough, and the client family's keys (millions
    # of pairs at 100,000 accounts) are looked up for those pairs only: the same edges as the
    # full self-join, without its memory.
    narrow = policy.min_kinds >= 2
    kinds = pa.table({"kind": [k.name for k in EDGE_KINDS],
                      "weight": [k.weight for k in EDGE_KINDS],
                      "corroborates": [k.corroborates for k in EDGE_KINDS],
                      "family": [k.evidence_family for k in EDGE_KINDS],
                      "anchors": [not narrow or (k.corroborates and k.evidence_family != "client")
                                  for k in EDGE_KINDS]})
    store.register_table("_link_kinds", kinds)
    params = {"max_bucket": max_bucket, "hard_cap": hard_cap, "n": n, "rare": rare_bucket(n),
              "min_score": policy.min_score, "min_kinds": policy.min_kinds,
              "min_strength": policy.min_strength,
              "anchor_strength": policy.min_strength if narrow else 0.0}
    return store.query_arrow(_PAIRS_SQL, params), n
