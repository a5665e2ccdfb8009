"""profile: per-account behaviour as SQL over the call table, plus sampled topic breadth."""

from __future__ import annotations

import pyarrow as pa

from distillwatch.engine import Tables
from distillwatch.ingest import ACCOUNTS_SCHEMA
from distillwatch.profile._partials import (
    EXAMPLES_PER_ACCOUNT,
    PARTIALS,
    TOPIC_SAMPLE_PER_ACCOUNT,
    calls_view_sql,
    empty_partial_sql,
    partial_sql,
    partials_profile_sql,
)
from distillwatch.profile._sql import ACCOUNT_PROFILE_SQL, DAILY_SERIES_SQL, account_profile_sql
from distillwatch.profile._topics import embed, topic_features, topic_sample_sql

__all__ = ["ACCOUNT_PROFILE_SQL", "DAILY_SERIES_SQL", "EXAMPLES_PER_ACCOUNT", "PARTIALS",
           "TOPIC_SAMPLE_PER_ACCOUNT", "account_profile_sql", "account_profiles",
           "calls_view_sql", "daily_series", "embed", "empty_partial_sql", "partial_sql",
           "partials_profile_sql", "register_wanted", "topic_features"]

#: ``calls`` (or the table a caller names) with the derived columns the profile SQL reads.
_PROFILE_CALLS_VIEW = "_dw_profile_c"

#: The report's timelines from an incremental scan's per-day partials (``<prefix>base``).
_PARTIAL_DAILY_SQL = """
SELECT account_id, day, CAST(SUM(n_calls) AS BIGINT) AS calls,
    CAST(SUM(prompt_tokens) AS DOUBLE) AS prompt_tokens,
    CAST(SUM(completion_tokens) AS DOUBLE) AS completion_tokens
FROM __P__base
WHERE account_id IN (SELECT account_id FROM _wanted_accounts)
GROUP BY account_id, day
ORDER BY account_id, day
"""


def account_profiles(store: Tables, *, topic_sample: int = TOPIC_SAMPLE_PER_ACCOUNT,
                     calls: str = "calls", accounts: str = "accounts",
                     partials: str | None = None) -> pa.Table:
    """One row per account seen in ``calls``: behaviour aggregates and topic breadth.

    ``calls`` and ``accounts`` may name other tables or views of the same shape, e.g. calls
    regrouped so that a linked cluster is profiled as one account. With ``partials`` (a
    table-name prefix), the same table comes from an incremental scan's stored per-day
    partials (``<prefix>base``, ``<prefix>timeline``, ...) instead of ``calls``.
    """
    store.ensure_accounts(ACCOUNTS_SCHEMA)
    if partials is None:
        store.create_view(_PROFILE_CALLS_VIEW, calls_view_sql(calls))
        profiles = store.query_arrow(account_profile_sql(_PROFILE_CALLS_VIEW, accounts))
        sample = store.query_arrow(topic_sample_sql(calls), [topic_sample])
    else:
        if topic_sample > TOPIC_SAMPLE_PER_ACCOUNT:
            raise ValueError(f"the stored topic sample holds {TOPIC_SAMPLE_PER_ACCOUNT} "
                             "prompts per account and day")
        profiles = store.query_arrow(partials_profile_sql(partials, accounts))
        sample = store.query_arrow(topic_sample_sql(f"{partials}topics"), [topic_sample])
    topics = topic_features(sample)
    joined = profiles.join(topics, "account_id", join_type="left outer")
    return joined.sort_by("account_id")


def daily_series(store: Tables, account_ids: list[str], partials: str | None = None
                 ) -> pa.Table:
    """Calls and tokens per day for the given accounts (for timelines)."""
    register_wanted(store, account_ids)
    if partials is not None:
        return store.query_arrow(_PARTIAL_DAILY_SQL.replace("__P__", partials))
    return store.query_arrow(DAILY_SERIES_SQL)


def register_wanted(store: Tables, account_ids: list[str]) -> None:
    """The accounts a query is about, as the table ``_wanted_accounts`` (no engine's UNNEST)."""
    store.register_table("_wanted_accounts",
                         pa.table({"account_id": pa.array(account_ids, pa.string())}))
