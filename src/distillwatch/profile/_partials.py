"""Per-account state as mergeable per-day partial aggregates (incremental scans).

A day's calls are reduced to a few small tables keyed by (account, day, ...): counts and
integer sums, the distinct values an account used, calls per hour, per prompt, per template,
the millisecond timeline of its calls, and bounded samples (the prompts topic sampling would
pick, the calls findings would show). Every one of them merges exactly: counts and sums add,
distinct sets unite, and a "first k by some order" sample of a union is the first k of the
union of each part's first k. So the profile of days 1..N+1 is computed from the stored
partials of days 1..N plus the partials of day N+1, and equals (to float rounding) the profile
a full rescan of all the calls computes with ``ACCOUNT_PROFILE_SQL``.

Every text here is in the SQL subset both engines evaluate alike (see ``_sql.py``): DuckDB and
Spark run the same partial queries over a run's ``calls`` and the same merge queries over the
stored partials; only storing them is engine-specific (``engine``).

The inter-call gap statistics need the order of all of an account's calls, so their state is
the account's timeline: calls per (account, millisecond). It is exact, and it is the one state
that grows with calls (a few bytes a call), not with accounts; see docs/scale.md.
"""

from __future__ import annotations

from distillwatch.engine import Tables
from distillwatch.profile._sql import (
    HIGH_MAX_TOKENS,
    HOUR_ENTROPY_CTE,
    PEAK_HOUR_CTE,
    PROFILE_SELECT,
    SIDE_MODE_TOKENS,
)

__all__ = ["EXAMPLES_PER_ACCOUNT", "PARTIALS", "TOPIC_SAMPLE_PER_ACCOUNT", "calls_view_sql",
           "empty_partial_sql", "partial_sql", "partials_profile_sql"]

#: Distinct prompts per account that topic sampling embeds (the sample is kept per day).
TOPIC_SAMPLE_PER_ACCOUNT = 40
#: Example calls per account a finding shows (the candidates are kept per day).
EXAMPLES_PER_ACCOUNT = 3

#: A run's calls with the derived columns the partials group by.
_CALLS_VIEW = f"""
SELECT *,
    CAST(ts AS DATE) AS day,
    CAST(EXTRACT(HOUR FROM ts) AS INTEGER) AS hour,
    CAST(FLOOR(unix_micros(ts) / 1000) AS BIGINT) AS ts_ms,
    CASE WHEN n_assistant_turns = 0 AND history_chars = 0 THEN 1 ELSE 0 END AS single_turn,
    CASE WHEN max_tokens >= {HIGH_MAX_TOKENS} THEN 1 ELSE 0 END AS high_max,
    CASE WHEN (cot AND (max_tokens IS NULL OR max_tokens >= 1000))
              OR COALESCE(top_logprobs, 0) >= 5 OR logit_bias_size > 0
              OR COALESCE(n, 1) > 1 OR reasoning_effort = 'high'
         THEN 1 ELSE 0 END AS harvest_like
FROM __CALLS__
"""


def _count(condition: str, name: str) -> str:
    return f"CAST(SUM(CASE WHEN {condition} THEN 1 ELSE 0 END) AS BIGINT) AS {name}"


_SHARES = (  # (condition, column): each becomes a count; the merge divides by n_calls
    ("status = 429", "rate_limited"),
    ("status >= 500 OR (status >= 400 AND status <> 429)", "error"),
    ("single_turn = 1", "single_turn"),
    ("cot", "cot"),
    ("reasoning_effort = 'high'", "effort_high"),
    ("COALESCE(reasoning_tokens, 0) > 0", "reasoning"),
    ("logprobs", "logprobs"),
    ("COALESCE(top_logprobs, 0) >= 10", "top_logprobs_high"),
    ("logit_bias_size > 0", "logit_bias"),
    ("max_tokens <= 5", "tiny_max_tokens"),
    ("high_max = 1", "high_max_tokens"),
    ("COALESCE(n, 1) > 1", "multi_sample"),
    ("temperature = 0", "temp_zero"),
    ("seed_set", "seed"),
    ("finish_reason = 'length'", "truncated"),
    ("n_tools > 0 OR n_tool_messages > 0", "tools"),
    ("end_user IS NOT NULL", "end_user"),
    ("harvest_like = 1", "harvest_like"),
    ("script IS NOT NULL AND script <> 'latin'", "non_latin"),
)

#: Columns whose profile value is a mean over the calls that have them (nulls skipped).
_MEANS = (("completion_tokens", "mean_completion_tokens"), ("prompt_tokens", "mean_prompt_tokens"),
          ("user_chars", "mean_user_chars"), ("system_chars", "mean_system_chars"))

#: Columns whose profile value is a distinct count: kept as the account's set of values a day.
_DISTINCT = (("system_hash", "distinct_systems"), ("script", "distinct_scripts"),
             ("key_id", "distinct_keys"), ("client_ip", "distinct_ips"),
             ("ip_prefix", "distinct_ip_prefixes"), ("user_agent", "distinct_user_agents"),
             ("end_user", "distinct_end_users"), ("model", "distinct_models"),
             ("param_keys", "distinct_request_shapes"))

_BASE = (
    "SELECT account_id, day, COUNT(*) AS n_calls,\n"
    "    COUNT(*) FILTER (WHERE status >= 200 AND status < 300) AS n_ok,\n"
    "    MIN(ts) AS first_ts, MAX(ts) AS last_ts,\n"
    + "".join(f"    CAST(SUM(COALESCE({c}, 0)) AS BIGINT) AS {c},\n"
              for c in ("prompt_tokens", "completion_tokens", "reasoning_tokens"))
    + "".join(f"    CAST(SUM({c}) AS BIGINT) AS {c}_sum, COUNT({c}) AS {c}_n,\n"
              for c, _ in _MEANS)
    + "    CAST(SUM(COALESCE(n, 1)) AS BIGINT) AS n_sum,\n"
    + ",\n".join(f"    {_count(cond, name + '_calls')}" for cond, name in _SHARES)
    + "\nFROM __C__ GROUP BY account_id, day"
)

_VALUES = "\nUNION ALL\n".join(
    f"SELECT account_id, day, '{col}' AS kind, CAST({col} AS STRING) AS value FROM __C__ "
    f"WHERE {col} IS NOT NULL GROUP BY 1, 2, 4" for col, _ in _DISTINCT)

_TEMPLATES = f"""
SELECT account_id, day, 'prefix' AS kind, template_prefix AS t, COUNT(*) AS k,
    CAST(0 AS BIGINT) AS k_long
FROM __C__ WHERE template_prefix IS NOT NULL GROUP BY account_id, day, template_prefix
UNION ALL
SELECT account_id, day, 'suffix', template_suffix, COUNT(*), CAST(0 AS BIGINT)
FROM __C__ WHERE template_suffix IS NOT NULL GROUP BY account_id, day, template_suffix
UNION ALL
SELECT account_id, day, 'system', system_hash, COUNT(*),
    {_count(f"completion_tokens >= {SIDE_MODE_TOKENS}", "k_long")}
FROM __C__ GROUP BY account_id, day, system_hash
"""

_TOPICS = f"""
SELECT account_id, day, prompt_hash, user_excerpt FROM (
    SELECT account_id, day, prompt_hash, user_excerpt,
        row_number() OVER (PARTITION BY account_id, day ORDER BY prompt_hash) AS r
    FROM (
        SELECT account_id, day, prompt_hash, MIN(user_excerpt) AS user_excerpt
        FROM __C__ WHERE prompt_hash IS NOT NULL GROUP BY account_id, day, prompt_hash
    ) d
) s WHERE r <= {TOPIC_SAMPLE_PER_ACCOUNT}
"""

#: The columns ``findings.EXAMPLES_SQL`` selects and orders by.
_EXAMPLE_COLUMNS = ("account_id", "day", "request_id", "ts", "model", "system_excerpt",
                    "user_excerpt", "response_excerpt", "max_tokens", "temperature", "n",
                    "logprobs", "top_logprobs", "logit_bias_size", "reasoning_effort", "cot",
                    "completion_tokens", "prompt_hash")

_EXAMPLES = f"""
SELECT {", ".join(_EXAMPLE_COLUMNS)} FROM (
    SELECT *, row_number() OVER (
        PARTITION BY account_id, day
        ORDER BY (CASE WHEN cot OR COALESCE(top_logprobs, 0) >= 5 OR logit_bias_size > 0
                       OR COALESCE(n, 1) > 1 THEN 0 ELSE 1 END), prompt_hash, request_id) AS r
    FROM __C__ WHERE user_excerpt IS NOT NULL
) s WHERE r <= {EXAMPLES_PER_ACCOUNT}
"""


#: Partial name -> its query over ``_dw_c`` (a run's calls with derived columns); ``keys``
#: (the link stage's blocking keys per account) comes from ``link``, which owns them.
_QUERIES: dict[str, str] = {
    "base": _BASE,
    "hours": "SELECT account_id, day, hour, COUNT(*) AS k FROM __C__ "
             "GROUP BY account_id, day, hour",
    "values": _VALUES,
    "prompts": "SELECT account_id, day, prompt_hash, model, COUNT(*) AS k FROM __C__ "
               "WHERE prompt_hash IS NOT NULL GROUP BY account_id, day, prompt_hash, model",
    "templates": _TEMPLATES,
    "timeline": "SELECT account_id, day, ts_ms, COUNT(*) AS k FROM __C__ "
                "GROUP BY account_id, day, ts_ms",
    # first call per account, day and model: when an account moved to a new model (``link``)
    "adoptions": "SELECT account_id, day, model, MIN(ts) AS first_ts FROM __C__ "
                 "WHERE model IS NOT NULL GROUP BY account_id, day, model",
    "topics": _TOPICS,
    "examples": _EXAMPLES,
}

#: Every partial; each has ``account_id`` and ``day`` and is stored partitioned by day.
PARTIALS: tuple[str, ...] = (*_QUERIES, "keys")


def partial_sql(name: str, calls_view: str = "_dw_c") -> str:
    """The query that computes partial ``name`` from ``calls_view`` (see ``calls_view_sql``)."""
    if name == "keys":
        from distillwatch.link import key_counts_sql  # link imports profile: import late

        return key_counts_sql(calls_view, by_day=True)
    return _QUERIES[name].replace("__C__", calls_view)


def empty_partial_sql(name: str, tables: Tables) -> str:
    """An empty table of partial ``name``'s shape (for a state that has none of it yet).

    Computed from an empty table of the call schema, so it needs no ``calls`` of this run.
    """
    from distillwatch.features import CALL_FEATURES_SCHEMA

    tables.register_table("_dw_no_calls", CALL_FEATURES_SCHEMA.empty_table())
    tables.create_view("_dw_c0", calls_view_sql("_dw_no_calls"))
    return f"SELECT * FROM ({partial_sql(name, '_dw_c0')}) empty"


def calls_view_sql(calls: str = "calls") -> str:
    """``_dw_c``: the run's calls plus day, hour, millisecond and per-call flags."""
    return _CALLS_VIEW.replace("__CALLS__", calls)


_SHARE_COLUMNS = {"rate_limited": "rate_limited_share", "error": "error_share",
                  "single_turn": "single_turn_share", "cot": "cot_share",
                  "effort_high": "effort_high_share", "reasoning": "reasoning_share",
                  "logprobs": "logprobs_share", "top_logprobs_high": "top_logprobs_high_share",
                  "logit_bias": "logit_bias_share", "tiny_max_tokens": "tiny_max_tokens_share",
                  "high_max_tokens": "high_max_tokens_share",
                  "multi_sample": "multi_sample_share", "temp_zero": "temp_zero_share",
                  "seed": "seed_share", "truncated": "truncated_share", "tools": "tools_share",
                  "end_user": "end_user_share", "harvest_like": "harvest_like_share",
                  "non_latin": "non_latin_share"}


def _share(name: str) -> str:
    return f"CAST(SUM({name}_calls) AS DOUBLE) / CAST(SUM(n_calls) AS DOUBLE)"


def _base_columns() -> tuple[str, list[str]]:
    """``base``'s columns in the order ``ACCOUNT_PROFILE_SQL`` has them."""
    mean = {col: (f"CAST(SUM({src}_sum) AS DOUBLE) / CAST(NULLIF(SUM({src}_n), 0) AS DOUBLE)")
            for src, col in _MEANS}
    cols = [
        ("n_calls", "CAST(SUM(n_calls) AS BIGINT)"),
        ("n_ok", "CAST(SUM(n_ok) AS BIGINT)"),
        ("rate_limited_share", _share("rate_limited")),
        ("error_share", _share("error")),
        ("first_ts", "MIN(first_ts)"), ("last_ts", "MAX(last_ts)"),
        ("active_days", "COUNT(DISTINCT day)"),
        ("prompt_tokens", "CAST(SUM(prompt_tokens) AS DOUBLE)"),
        ("completion_tokens", "CAST(SUM(completion_tokens) AS DOUBLE)"),
        ("reasoning_tokens", "CAST(SUM(reasoning_tokens) AS DOUBLE)"),
        *((c, mean[c]) for c in ("mean_completion_tokens", "mean_prompt_tokens",
                                 "mean_user_chars", "mean_system_chars")),
        ("distinct_prompts", None), ("distinct_systems", None),
        *((_SHARE_COLUMNS[n], _share(n)) for n in (
            "single_turn", "cot", "effort_high", "reasoning", "logprobs", "top_logprobs_high",
            "logit_bias", "tiny_max_tokens", "high_max_tokens", "multi_sample")),
        ("mean_n", "CAST(SUM(n_sum) AS DOUBLE) / CAST(SUM(n_calls) AS DOUBLE)"),
        *((_SHARE_COLUMNS[n], _share(n)) for n in (
            "temp_zero", "seed", "truncated", "tools", "end_user", "harvest_like")),
        ("harvest_like_calls", "CAST(SUM(harvest_like_calls) AS BIGINT)"),
        ("non_latin_share", _share("non_latin")),
        *((name, None) for col, name in _DISTINCT if col != "system_hash"),
    ]
    return (",\n    ".join(f"{expr} AS {name}" for name, expr in cols if expr),
            [name for name, _ in cols])


def _distinct_columns() -> str:
    parts = [f"COUNT(DISTINCT CASE WHEN kind = '{col}' THEN value END) AS {name}"
             for col, name in _DISTINCT]
    return ",\n        ".join(parts)


_MERGE_TEMPLATE = """
WITH base_sums AS (
    SELECT account_id,
    __BASE__
    FROM __P__base GROUP BY account_id
),
dist AS (
    SELECT account_id,
        __DISTINCT__
    FROM __P__values GROUP BY account_id
),
prompt_count AS (
    SELECT account_id, COUNT(DISTINCT prompt_hash) AS distinct_prompts
    FROM __P__prompts GROUP BY account_id
),
base AS (
    SELECT __BASE_ORDER__
    FROM base_sums s
    LEFT JOIN dist d ON d.account_id = s.account_id
    LEFT JOIN prompt_count pc ON pc.account_id = s.account_id
),
tl AS (
    SELECT account_id, ts_ms, CAST(SUM(k) AS BIGINT) AS k
    FROM __P__timeline GROUP BY account_id, ts_ms
),
steps AS (
    SELECT account_id, k,
        ts_ms - LAG(ts_ms) OVER (PARTITION BY account_id ORDER BY ts_ms) AS step
    FROM tl
),
gap_hist AS (
    -- every inter-call gap, in ms, with its multiplicity: k calls in one ms are k - 1 zeros
    SELECT account_id, g, CAST(SUM(c) AS BIGINT) AS c FROM (
        SELECT account_id, CAST(0 AS BIGINT) AS g, k - 1 AS c FROM steps WHERE k > 1
        UNION ALL
        SELECT account_id, step, CAST(1 AS BIGINT) FROM steps WHERE step IS NOT NULL
    ) u GROUP BY account_id, g
),
gap_moments AS (
    SELECT account_id, CAST(SUM(c) AS BIGINT) AS n,
        CAST(SUM(CAST(g AS DECIMAL(38, 0)) * c) AS DECIMAL(38, 0)) AS s1,
        CAST(SUM(CAST(g AS DECIMAL(38, 0)) * CAST(g AS DECIMAL(38, 0)) * c)
             AS DECIMAL(38, 0)) AS s2,
        CAST(SUM(CASE WHEN g < 1000 THEN c ELSE 0 END) AS BIGINT) AS bursts
    FROM gap_hist GROUP BY account_id
),
gap_cum AS (
    SELECT h.account_id, h.g, m.n,
        SUM(h.c) OVER (PARTITION BY h.account_id ORDER BY h.g
                       ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS upto
    FROM gap_hist h JOIN gap_moments m ON m.account_id = h.account_id
),
gap_mid AS (
    -- the two middle gaps (0-based positions floor and ceil of (n - 1) / 2)
    SELECT account_id,
        CAST(MIN(CASE WHEN upto > FLOOR((n - 1) / 2) THEN g END) AS DOUBLE) / 1000.0 AS lo,
        CAST(MIN(CASE WHEN upto > CEIL((n - 1) / 2) THEN g END) AS DOUBLE) / 1000.0 AS hi,
        CASE WHEN n % 2 = 0 THEN 0.5 ELSE 0.0 END AS frac
    FROM gap_cum GROUP BY account_id, n
),
gap_stats AS (
    SELECT m.account_id,
        CAST(m.s1 AS DOUBLE) / 1000.0 / CAST(m.n AS DOUBLE) AS gap_mean,
        SQRT(CAST(m.s2 * m.n - m.s1 * m.s1 AS DOUBLE)
             / (CAST(m.n AS DOUBLE) * CAST(m.n AS DOUBLE))) / 1000.0 AS gap_std,
        d.lo + (d.hi - d.lo) * d.frac AS gap_median,
        CAST(m.bursts AS DOUBLE) / CAST(m.n AS DOUBLE) AS burst_share
    FROM gap_moments m JOIN gap_mid d ON d.account_id = m.account_id
    WHERE m.n > 0
),
hours AS (
    SELECT account_id, hour, CAST(SUM(k) AS BIGINT) AS k
    FROM __P__hours GROUP BY account_id, hour
),
__HOUR_ENTROPY__hourly AS (
    SELECT account_id, day, hour, CAST(SUM(k) AS BIGINT) AS k
    FROM __P__hours GROUP BY account_id, day, hour
),
__PEAK_HOUR__templates AS (
    SELECT account_id, kind, t, CAST(SUM(k) AS BIGINT) AS k,
        CAST(SUM(k_long) AS BIGINT) AS k_long
    FROM __P__templates GROUP BY account_id, kind, t
),
main_system AS (
    SELECT account_id, t AS main_system_hash FROM (
        SELECT account_id, t, row_number() OVER (
            PARTITION BY account_id ORDER BY k DESC, t) AS r
        FROM templates WHERE kind = 'system' AND t IS NOT NULL
    ) ranked WHERE r = 1
),
side_calls AS (
    SELECT s.account_id,
        CAST(SUM(s.k_long) AS BIGINT)
            - CAST(SUM(CASE WHEN s.t IS NOT DISTINCT FROM m.main_system_hash THEN s.k_long
                            ELSE 0 END) AS BIGINT)
            AS side_mode_calls
    FROM templates s LEFT JOIN main_system m ON m.account_id = s.account_id
    WHERE s.kind = 'system'
    GROUP BY s.account_id
),
side_mode AS (
    SELECT sc.account_id,
        CAST(sc.side_mode_calls AS DOUBLE) / CAST(b.n_calls AS DOUBLE) AS side_mode_share,
        sc.side_mode_calls
    FROM side_calls sc JOIN base b ON b.account_id = sc.account_id
),
tops AS (
    SELECT account_id,
        MAX(CASE WHEN kind = 'prefix' THEN k ELSE 0 END) AS top_prefix,
        MAX(CASE WHEN kind = 'suffix' THEN k ELSE 0 END) AS top_suffix,
        MAX(CASE WHEN kind = 'system' AND t IS NOT NULL THEN k ELSE 0 END) AS top_system
    FROM templates GROUP BY account_id
),
prompt_models AS (
    SELECT account_id, prompt_hash, COUNT(DISTINCT model) AS models,
        CAST(SUM(k) AS BIGINT) AS k
    FROM __P__prompts GROUP BY account_id, prompt_hash
),
repeats AS (
    SELECT account_id,
        AVG(CASE WHEN models > 1 THEN 1 ELSE 0 END) AS cross_model_repeat_share,
        AVG(CASE WHEN k > 1 THEN 1 ELSE 0 END) AS repeated_prompt_share
    FROM prompt_models GROUP BY account_id
)
""" + PROFILE_SELECT
# the steps the calls SQL shares
_MERGE_TEMPLATE = _MERGE_TEMPLATE.replace("__HOUR_ENTROPY__", HOUR_ENTROPY_CTE).replace(
    "__PEAK_HOUR__", PEAK_HOUR_CTE)


def partials_profile_sql(prefix: str = "st_", accounts: str = "accounts") -> str:
    """``ACCOUNT_PROFILE_SQL``'s table, computed from partials named ``<prefix><partial>``."""
    sums, order = _base_columns()
    from_dist = {name for _, name in _DISTINCT} | {"distinct_prompts"}
    select = ", ".join(
        f"COALESCE(d.{n}, 0) AS {n}" if n in from_dist - {"distinct_prompts"}
        else "COALESCE(pc.distinct_prompts, 0) AS distinct_prompts" if n == "distinct_prompts"
        else f"s.{n}" for n in order)
    return (_MERGE_TEMPLATE.replace("__BASE__", sums).replace("__DISTINCT__", _distinct_columns())
            .replace("__BASE_ORDER__", "s.account_id, " + select)
            .replace("__P__", prefix).replace("__ACCOUNTS__", accounts))
