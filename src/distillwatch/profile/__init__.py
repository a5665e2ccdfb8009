"""profile: per-account behaviour as SQL over the call table, plus sampled topic breadth."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from distillwatch.ingest import ACCOUNTS_SCHEMA, Store
from distillwatch.profile._sql import ACCOUNT_PROFILE_SQL, DAILY_SERIES_SQL
from distillwatch.profile._topics import TOPIC_SAMPLE_SQL, embed, topic_features

__all__ = ["ACCOUNT_PROFILE_SQL", "DAILY_SERIES_SQL", "account_profiles", "daily_series",
           "embed", "topic_features"]

TOPIC_SAMPLE_PER_ACCOUNT = 40


def account_profiles(store: Store, *, topic_sample: int = TOPIC_SAMPLE_PER_ACCOUNT) -> pa.Table:
    """One row per account seen in ``calls``: behaviour aggregates and topic breadth."""
    store.ensure_accounts(ACCOUNTS_SCHEMA)
    profiles = store.query_arrow(ACCOUNT_PROFILE_SQL)
    sample = store.query_arrow(TOPIC_SAMPLE_SQL, [topic_sample])
    topics = topic_features(sample)
    joined = profiles.join(topics, "account_id", join_type="left outer")
    return joined.sort_by("account_id")


def daily_series(store: Store, account_ids: list[str]) -> pa.Table:
    """Calls and tokens per day for the given accounts (for timelines)."""
    if not account_ids:
        return store.query_arrow(DAILY_SERIES_SQL, [["\x00"]])
    return store.query_arrow(DAILY_SERIES_SQL, [account_ids])


def column(table: pa.Table, name: str) -> list[float]:
    """A numeric column as floats with nulls as NaN (helper for the detectors)."""
    return pc.fill_null(pc.cast(table.column(name), pa.float64()), float("nan")).to_pylist()
