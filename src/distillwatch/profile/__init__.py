"""profile: per-account behaviour as SQL over the call table, plus sampled topic breadth."""

from __future__ import annotations

import pyarrow as pa

from distillwatch.engine import Tables
from distillwatch.ingest import ACCOUNTS_SCHEMA
from distillwatch.profile._sql import ACCOUNT_PROFILE_SQL, DAILY_SERIES_SQL, account_profile_sql
from distillwatch.profile._topics import embed, topic_features, topic_sample_sql

__all__ = ["ACCOUNT_PROFILE_SQL", "DAILY_SERIES_SQL", "account_profile_sql", "account_profiles",
           "daily_series", "embed", "register_wanted", "topic_features"]

TOPIC_SAMPLE_PER_ACCOUNT = 40


def account_profiles(store: Tables, *, topic_sample: int = TOPIC_SAMPLE_PER_ACCOUNT,
                     calls: str = "calls", accounts: str = "accounts") -> pa.Table:
    """One row per account seen in ``calls``: behaviour aggregates and topic breadth.

    ``calls`` and ``accounts`` may name other tables or views of the same shape, e.g. calls
    regrouped so that a linked cluster is profiled as one account.
    """
    store.ensure_accounts(ACCOUNTS_SCHEMA)
    profiles = store.query_arrow(account_profile_sql(calls, accounts))
    sample = store.query_arrow(topic_sample_sql(calls), [topic_sample])
    topics = topic_features(sample)
    joined = profiles.join(topics, "account_id", join_type="left outer")
    return joined.sort_by("account_id")


def daily_series(store: Tables, account_ids: list[str]) -> pa.Table:
    """Calls and tokens per day for the given accounts (for timelines)."""
    register_wanted(store, account_ids)
    return store.query_arrow(DAILY_SERIES_SQL)


def register_wanted(store: Tables, account_ids: list[str]) -> None:
    """The accounts a query is about, as the table ``_wanted_accounts`` (no engine's UNNEST)."""
    store.register_table("_wanted_accounts",
                         pa.table({"account_id": pa.array(account_ids, pa.string())}))
