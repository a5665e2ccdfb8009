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
    EdgeKind("network", 0.3, "same /24 or /48 network", corroborates=False),
    EdgeKind("agent", 0.2, "same user agent", corroborates=False),
)

#: Keys an account must use this many times before they say something about it.
MIN_KEY_CALLS = 3

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
)
SELECT account_id, kind, key FROM ranked WHERE r <= ?
UNION ALL
SELECT account_id, 'payment', payment_fingerprint FROM accounts
    WHERE payment_fingerprint IS NOT NULL
UNION ALL
SELECT account_id, 'email', lower(email_domain) FROM accounts WHERE email_domain IS NOT NULL
UNION ALL
SELECT account_id, 'signup', key FROM (
    -- two-hour windows, twice with a one-hour offset: accounts opened within about two
    -- hours of each other share a window whatever the clock, so a burst of sign-ups over
    -- days chains window to window instead of breaking at every bucket edge
    SELECT account_id, CAST(CAST(created_at AS DATE) AS STRING) || 'a'
        || CAST(CAST(FLOOR(EXTRACT(HOUR FROM created_at) / 2) AS BIGINT) AS STRING) AS key
        FROM accounts WHERE created_at IS NOT NULL
    UNION ALL
    SELECT account_id, CAST(CAST(created_at + INTERVAL 1 HOUR AS DATE) AS STRING) || 'b'
        || CAST(CAST(FLOOR(EXTRACT(HOUR FROM created_at + INTERVAL 1 HOUR) / 2) AS BIGINT)
                AS STRING)
        FROM accounts WHERE created_at IS NOT NULL
) signup_windows
"""

#: Key counts summed over the per-day partials of an incremental scan (``<prefix>keys``).
_MERGED_KEY_COUNTS = ("SELECT account_id, kind, key, CAST(SUM(k) AS BIGINT) AS k "
                      "FROM __P__keys GROUP BY account_id, kind, key")


def _keys_sql(partials: str | None) -> str:
    per_key = (key_counts_sql() if partials is None
               else _MERGED_KEY_COUNTS.replace("__P__", partials))
    return _KEYS_TEMPLATE.replace("__PER_KEY__", per_key)


_PAIRS_SQL = """
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
per_kind AS (
    SELECT a.account_id AS src, b.account_id AS dst, a.kind, MIN(a.size) AS bucket,
        CASE WHEN MIN(a.common) <= $rare OR $n <= $rare THEN 1.0
             ELSE GREATEST(0.0, LEAST(1.0, LN(CAST($n AS DOUBLE) / MIN(a.common))
                                           / LN(CAST($n AS DOUBLE) / $rare))) END AS strength
    FROM usable a JOIN usable b
        ON a.kind = b.kind AND a.key = b.key AND a.account_id < b.account_id
    GROUP BY a.account_id, b.account_id, a.kind
),
pooled AS (
    SELECT p.src, p.dst, SUM(w.weight * p.strength) AS score,
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
    kinds = pa.table({"kind": [k.name for k in EDGE_KINDS],
                      "weight": [k.weight for k in EDGE_KINDS],
                      "corroborates": [k.corroborates for k in EDGE_KINDS],
                      "family": [k.evidence_family for k in EDGE_KINDS]})
    store.register_table("_link_kinds", kinds)
    params = {"max_bucket": max_bucket, "hard_cap": hard_cap, "n": n, "rare": rare_bucket(n),
              "min_score": policy.min_score, "min_kinds": policy.min_kinds,
              "min_strength": policy.min_strength}
    return store.query_arrow(_PAIRS_SQL, params), n
