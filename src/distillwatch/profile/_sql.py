"""Per-account profile as one SQL text over the calls (through the derived-column view).

Kept to the SQL subset that DuckDB and Spark evaluate alike (COUNT, SUM, COUNT(DISTINCT),
AVG(CASE ...), FILTER, LAG with request_id tie-breaks, EXTRACT(HOUR), LN, CAST AS DOUBLE, NULLIF
around every divisor): both engines run this very text (tests/test_spark.py compares them).
What they evaluate differently is avoided, not forked: AVG runs over integer 0/1, never decimal
literals (Spark averages a DECIMAL(2,1) to four places); integer SUMs are cast to BIGINT (DuckDB
widens them to HUGEINT); time differences come from ``unix_micros`` (a Spark built-in, a macro
in DuckDB) floored to the unit, which is what DuckDB's ``date_diff`` counts.
"""

from __future__ import annotations

__all__ = ["ACCOUNT_PROFILE_SQL", "DAILY_SERIES_SQL", "HOUR_ENTROPY_CTE", "PEAK_HOUR_CTE",
           "PROFILE_SELECT", "account_profile_sql"]

#: Calls with at least this many requested output tokens count as "high max tokens".
HIGH_MAX_TOKENS = 4000
#: Output tokens from which a call outside the account's main system prompt is a "side mode"
#: call: an app that quietly runs a second, output-heavy stream (mimicry) shows up here.
SIDE_MODE_TOKENS = 800

#: The profile's last step: its columns from the per-account steps (``base``, ``tops``,
#: ``gap_stats``, ``hour_entropy``, ``peak``, ``repeats``, ``side_mode``). Shared with the merge
#: over an incremental scan's partials, which names its steps alike, so both give one table.
PROFILE_SELECT = """SELECT b.*,
    CAST(b.distinct_prompts AS DOUBLE) / NULLIF(b.n_calls, 0) AS distinct_prompt_rate,
    b.completion_tokens / NULLIF(b.prompt_tokens, 0) AS out_in_ratio,
    CAST(b.n_calls AS DOUBLE) / NULLIF(b.active_days, 0) AS calls_per_active_day,
    CAST(GREATEST(COALESCE(t.top_prefix, 0), COALESCE(t.top_suffix, 0)) AS DOUBLE)
        / NULLIF(b.n_calls, 0) AS top_template_share,
    CAST(COALESCE(t.top_system, 0) AS DOUBLE) / NULLIF(b.n_calls, 0) AS top_system_share,
    g.gap_std / NULLIF(g.gap_mean, 0) AS gap_cv,
    g.gap_median,
    g.burst_share,
    he.hour_entropy,
    p.peak_hour_calls,
    p.active_hours,
    r.cross_model_repeat_share,
    r.repeated_prompt_share,
    sm.side_mode_share,
    sm.side_mode_calls,
    a.created_at,
    COALESCE(a.allowlisted, FALSE) AS allowlisted,
    a.payment_fingerprint,
    a.email_domain,
    CAST(FLOOR(unix_micros(b.first_ts) / 3600000000)
         - FLOOR(unix_micros(a.created_at) / 3600000000) AS DOUBLE) / 24.0 AS account_age_days
FROM base b
LEFT JOIN tops t ON t.account_id = b.account_id
LEFT JOIN gap_stats g ON g.account_id = b.account_id
LEFT JOIN hour_entropy he ON he.account_id = b.account_id
LEFT JOIN peak p ON p.account_id = b.account_id
LEFT JOIN repeats r ON r.account_id = b.account_id
LEFT JOIN side_mode sm ON sm.account_id = b.account_id
LEFT JOIN __ACCOUNTS__ a ON a.account_id = b.account_id
ORDER BY b.account_id
"""

#: Hour-of-day entropy from a ``hours (account_id, hour, k)`` CTE; the calls SQL and the merge
#: over incremental partials build ``hours`` differently and share this step.
HOUR_ENTROPY_CTE = """hour_entropy AS (
    SELECT h.account_id,
        -SUM((CAST(h.k AS DOUBLE) / t.n) * LN(CAST(h.k AS DOUBLE) / t.n)) AS hour_entropy
    FROM hours h
    JOIN (SELECT account_id, CAST(SUM(k) AS BIGINT) AS n FROM hours GROUP BY account_id) t
        ON h.account_id = t.account_id
    GROUP BY h.account_id
),
"""

#: Busiest hour and active hours from an ``hourly (account_id, day, hour, k)`` CTE (shared too).
PEAK_HOUR_CTE = """peak AS (
    SELECT account_id, MAX(k) AS peak_hour_calls, COUNT(*) AS active_hours
    FROM hourly GROUP BY account_id
),
"""

_PROFILE_TEMPLATE = f"""
WITH gaps AS (
    SELECT account_id,
        CAST(ts_ms - LAG(ts_ms) OVER (PARTITION BY account_id ORDER BY ts, request_id)
            AS DOUBLE) / 1000.0 AS gap_s
    FROM __C__
),
gap_stats AS (
    SELECT account_id,
        AVG(gap_s) AS gap_mean,
        STDDEV_POP(gap_s) AS gap_std,
        PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY gap_s) AS gap_median,
        AVG(CASE WHEN gap_s < 1.0 THEN 1 ELSE 0 END) AS burst_share
    FROM gaps WHERE gap_s IS NOT NULL GROUP BY account_id
),
hours AS (
    SELECT account_id, hour, COUNT(*) AS k FROM __C__ GROUP BY account_id, hour
),
{HOUR_ENTROPY_CTE}hourly AS (
    SELECT account_id, day, hour, COUNT(*) AS k FROM __C__ GROUP BY account_id, day, hour
),
{PEAK_HOUR_CTE}prefixes AS (
    SELECT account_id, template_prefix AS t, COUNT(*) AS k
    FROM __C__ WHERE template_prefix IS NOT NULL GROUP BY account_id, template_prefix
),
suffixes AS (
    SELECT account_id, template_suffix AS t, COUNT(*) AS k
    FROM __C__ WHERE template_suffix IS NOT NULL GROUP BY account_id, template_suffix
),
systems AS (
    SELECT account_id, system_hash AS t, COUNT(*) AS k
    FROM __C__ WHERE system_hash IS NOT NULL GROUP BY account_id, system_hash
),
main_system AS (
    SELECT account_id, t AS main_system_hash FROM (
        SELECT account_id, t, row_number() OVER (
            PARTITION BY account_id ORDER BY k DESC, t) AS r
        FROM systems
    ) ranked WHERE r = 1
),
side_mode AS (
    SELECT c.account_id,
        AVG(CASE WHEN c.system_hash IS DISTINCT FROM m.main_system_hash
                  AND c.completion_tokens >= {SIDE_MODE_TOKENS} THEN 1 ELSE 0 END)
            AS side_mode_share,
        CAST(SUM(CASE WHEN c.system_hash IS DISTINCT FROM m.main_system_hash
                  AND c.completion_tokens >= {SIDE_MODE_TOKENS} THEN 1 ELSE 0 END)
            AS BIGINT) AS side_mode_calls
    FROM __C__ c LEFT JOIN main_system m ON m.account_id = c.account_id
    GROUP BY c.account_id
),
tops AS (
    SELECT account_id, MAX(top_prefix) AS top_prefix, MAX(top_suffix) AS top_suffix,
        MAX(top_system) AS top_system
    FROM (
        SELECT account_id, MAX(k) AS top_prefix, 0 AS top_suffix, 0 AS top_system
        FROM prefixes GROUP BY account_id
        UNION ALL
        SELECT account_id, 0, MAX(k), 0 FROM suffixes GROUP BY account_id
        UNION ALL
        SELECT account_id, 0, 0, MAX(k) FROM systems GROUP BY account_id
    ) u GROUP BY account_id
),
prompt_models AS (
    SELECT account_id, prompt_hash, COUNT(DISTINCT model) AS models, COUNT(*) AS k
    FROM __C__ WHERE prompt_hash IS NOT NULL GROUP BY account_id, prompt_hash
),
repeats AS (
    SELECT account_id,
        AVG(CASE WHEN models > 1 THEN 1 ELSE 0 END) AS cross_model_repeat_share,
        AVG(CASE WHEN k > 1 THEN 1 ELSE 0 END) AS repeated_prompt_share
    FROM prompt_models GROUP BY account_id
),
base AS (
    SELECT account_id,
        COUNT(*) AS n_calls,
        COUNT(*) FILTER (WHERE status >= 200 AND status < 300) AS n_ok,
        AVG(CASE WHEN status = 429 THEN 1 ELSE 0 END) AS rate_limited_share,
        AVG(CASE WHEN status >= 500 OR (status >= 400 AND status <> 429) THEN 1 ELSE 0 END)
            AS error_share,
        MIN(ts) AS first_ts,
        MAX(ts) AS last_ts,
        COUNT(DISTINCT day) AS active_days,
        CAST(SUM(COALESCE(prompt_tokens, 0)) AS DOUBLE) AS prompt_tokens,
        CAST(SUM(COALESCE(completion_tokens, 0)) AS DOUBLE) AS completion_tokens,
        CAST(SUM(COALESCE(reasoning_tokens, 0)) AS DOUBLE) AS reasoning_tokens,
        AVG(CAST(completion_tokens AS DOUBLE)) AS mean_completion_tokens,
        AVG(CAST(prompt_tokens AS DOUBLE)) AS mean_prompt_tokens,
        AVG(CAST(user_chars AS DOUBLE)) AS mean_user_chars,
        AVG(CAST(system_chars AS DOUBLE)) AS mean_system_chars,
        COUNT(DISTINCT prompt_hash) AS distinct_prompts,
        COUNT(DISTINCT system_hash) AS distinct_systems,
        AVG(CAST(single_turn AS DOUBLE)) AS single_turn_share,
        AVG(CASE WHEN cot THEN 1 ELSE 0 END) AS cot_share,
        AVG(CASE WHEN reasoning_effort = 'high' THEN 1 ELSE 0 END) AS effort_high_share,
        AVG(CASE WHEN COALESCE(reasoning_tokens, 0) > 0 THEN 1 ELSE 0 END)
            AS reasoning_share,
        AVG(CASE WHEN logprobs THEN 1 ELSE 0 END) AS logprobs_share,
        AVG(CASE WHEN COALESCE(top_logprobs, 0) >= 10 THEN 1 ELSE 0 END)
            AS top_logprobs_high_share,
        AVG(CASE WHEN logit_bias_size > 0 THEN 1 ELSE 0 END) AS logit_bias_share,
        AVG(CASE WHEN max_tokens <= 5 THEN 1 ELSE 0 END) AS tiny_max_tokens_share,
        AVG(CAST(high_max AS DOUBLE)) AS high_max_tokens_share,
        AVG(CASE WHEN COALESCE(n, 1) > 1 THEN 1 ELSE 0 END) AS multi_sample_share,
        AVG(CAST(COALESCE(n, 1) AS DOUBLE)) AS mean_n,
        AVG(CASE WHEN temperature = 0 THEN 1 ELSE 0 END) AS temp_zero_share,
        AVG(CASE WHEN seed_set THEN 1 ELSE 0 END) AS seed_share,
        AVG(CASE WHEN finish_reason = 'length' THEN 1 ELSE 0 END) AS truncated_share,
        AVG(CASE WHEN n_tools > 0 OR n_tool_messages > 0 THEN 1 ELSE 0 END) AS tools_share,
        AVG(CASE WHEN end_user IS NOT NULL THEN 1 ELSE 0 END) AS end_user_share,
        AVG(CAST(harvest_like AS DOUBLE)) AS harvest_like_share,
        CAST(SUM(harvest_like) AS BIGINT) AS harvest_like_calls,
        AVG(CASE WHEN script IS NOT NULL AND script <> 'latin' THEN 1 ELSE 0 END)
            AS non_latin_share,
        COUNT(DISTINCT script) AS distinct_scripts,
        COUNT(DISTINCT key_id) AS distinct_keys,
        COUNT(DISTINCT client_ip) AS distinct_ips,
        COUNT(DISTINCT ip_prefix) AS distinct_ip_prefixes,
        COUNT(DISTINCT user_agent) AS distinct_user_agents,
        COUNT(DISTINCT end_user) AS distinct_end_users,
        COUNT(DISTINCT model) AS distinct_models,
        COUNT(DISTINCT param_keys) AS distinct_request_shapes
    FROM __C__ GROUP BY account_id
)
{PROFILE_SELECT}"""



def account_profile_sql(calls_view: str = "_dw_c", accounts: str = "accounts") -> str:
    """The profile SQL over ``calls_view``: calls with ``calls_view_sql``'s derived columns.

    A view, not a CTE: DuckDB materialises a CTE that many steps read (here 1.8 GB for 3.3M
    calls, spilled to disk, about 9 of the query's 14 s), while it inlines a view into each
    step, which then reads only the columns it needs.
    """
    return _PROFILE_TEMPLATE.replace("__C__", calls_view).replace("__ACCOUNTS__", accounts)


ACCOUNT_PROFILE_SQL = account_profile_sql()

#: Calls and tokens per account and day, for the report's timelines.
DAILY_SERIES_SQL = """
SELECT account_id, CAST(ts AS DATE) AS day, COUNT(*) AS calls,
    CAST(SUM(COALESCE(prompt_tokens, 0)) AS DOUBLE) AS prompt_tokens,
    CAST(SUM(COALESCE(completion_tokens, 0)) AS DOUBLE) AS completion_tokens
FROM calls
WHERE account_id IN (SELECT account_id FROM _wanted_accounts)
GROUP BY account_id, CAST(ts AS DATE)
ORDER BY account_id, day
"""
