"""Incremental scans: the state folder's layout and its DuckDB adapter.

A state folder (``scan --incremental DIR``) holds one Parquet dataset per partial of
``profile.PARTIALS``, partitioned by day (``DIR/<partial>/day=YYYY-MM-DD/*.parquet``), and the
accounts seen so far (``DIR/accounts.parquet``). A run computes the partials of its own calls,
replaces the stored partials of the days its calls fall on, and then profiles every day from
the stored partials: it never reads earlier days' logs or calls. The layout is the same for
both engines; Spark's adapter is ``engine._spark`` (``spark_save_partials`` and friends).
"""

from __future__ import annotations

import shutil
import uuid
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from distillwatch.ingest import ACCOUNTS_SCHEMA, Store
from distillwatch.profile import PARTIALS, calls_view_sql, empty_partial_sql, partial_sql

__all__ = ["ACCOUNTS_FILE", "RUN_DB", "STATE_PREFIX", "duckdb_load_partials",
           "duckdb_save_partials", "merge_accounts", "read_state_accounts", "run_days",
           "write_state_accounts"]

#: Views of the stored partials are named ``st_<partial>``.
STATE_PREFIX = "st_"
#: The accounts seen by earlier runs (the newest accounts file wins per account).
ACCOUNTS_FILE = "accounts.parquet"
#: DuckDB's working database for one run's calls, inside the state folder, rebuilt every run.
RUN_DB = "run.duckdb"


def run_days(store: Store) -> list[date]:
    """The days the run's calls fall on (UTC)."""
    days = store.query_arrow("SELECT DISTINCT CAST(ts AS DATE) AS day FROM calls ORDER BY day")
    return [d for d in days.column(0).to_pylist() if d is not None]


def _quoted(path: Path | str) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def duckdb_save_partials(store: Store, state: Path) -> list[date]:
    """Compute the run's partials and replace the stored ones of the days it covers."""
    store.create_view("_dw_c", calls_view_sql())
    days = run_days(store)
    for name in PARTIALS:
        folder = state / name
        for day in days:
            shutil.rmtree(folder / f"day={day.isoformat()}", ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)
        store.con.execute(
            f"COPY ({partial_sql(name)}) TO {_quoted(folder)} (FORMAT PARQUET, "
            f"PARTITION_BY (day), OVERWRITE_OR_IGNORE, "
            f"FILENAME_PATTERN 'run-{uuid.uuid4().hex[:12]}-{{i}}')")
    return days


def duckdb_load_partials(store: Store, state: Path) -> str:
    """Views ``st_<partial>`` over every stored day; returns the prefix."""
    for name in PARTIALS:
        folder = state / name
        if any(folder.glob("day=*/*.parquet")):
            source = (f"SELECT * FROM read_parquet({_quoted(folder / 'day=*' / '*.parquet')}, "
                      "hive_partitioning = true)")
        else:  # nothing stored for this partial yet: an empty table of its shape
            source = empty_partial_sql(name, store)
        store.create_view(f"{STATE_PREFIX}{name}", source)
    return STATE_PREFIX


def merge_accounts(stored: pa.Table | None, new: pa.Table | None) -> pa.Table | None:
    """Stored accounts updated with a new accounts file's rows (new rows win)."""
    parts = [t.select(ACCOUNTS_SCHEMA.names).cast(ACCOUNTS_SCHEMA)
             for t in (new, stored) if t is not None]
    if not parts:
        return None
    both = pa.concat_tables(parts)
    seen: set[str] = set()
    keep = []
    for account in both.column("account_id").to_pylist():
        keep.append(account not in seen)
        seen.add(account)
    return both.filter(pa.array(keep)).sort_by("account_id")


def read_state_accounts(state: Path) -> pa.Table | None:
    """The stored accounts (a file, or the folder Spark writes), if any."""
    path = state / ACCOUNTS_FILE
    return pq.read_table(path) if path.exists() else None


def write_state_accounts(state: Path, table: pa.Table) -> None:
    """Replace the stored accounts (written beside, then moved: never half a file)."""
    state.mkdir(parents=True, exist_ok=True)
    tmp = state / f".{ACCOUNTS_FILE}.tmp"
    pq.write_table(table, tmp)
    if (state / ACCOUNTS_FILE).is_dir():  # written by Spark (a folder of part files)
        shutil.rmtree(state / ACCOUNTS_FILE)
    tmp.replace(state / ACCOUNTS_FILE)
