"""The embedded store: one DuckDB file holding the calls (with features) and the accounts.

Writes are idempotent on ``request_id``: a batch lands in a staging table first and is merged
with an anti-join, so re-scanning overlapping logs adds nothing twice, and a new log adds to
what is there (incremental). When ``calls`` is empty the staging table is an ordinary one in the
database and simply becomes ``calls`` at the end (repeated ids dropped first), which saves
copying every row a second time; its inserts commit as they go, so memory stays bounded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from distillwatch.errors import InputError

__all__ = ["STAGE_ROWS", "MergeResult", "Store"]

#: DuckDB's memory budget; larger work spills to disk (keeps a 10M-call scan within a few GB).
DEFAULT_MEMORY_LIMIT = "1536MB"

#: Rows gathered in memory before one insert into the staging table.
STAGE_ROWS = 65536

#: Spark built-ins the shared SQL texts use, defined for DuckDB (see engine/_tables.py).
PORTABLE_MACROS = "CREATE OR REPLACE TEMP MACRO unix_micros(t) AS epoch_us(t)"


@dataclass(frozen=True)
class MergeResult:
    """How many staged rows were new, and how many were already stored or repeated."""

    added: int
    duplicates: int


class Store:
    """A DuckDB database with the ``calls`` and ``accounts`` tables."""

    def __init__(self, path: str | Path, *, threads: int | None = None,
                 memory_limit: str = DEFAULT_MEMORY_LIMIT) -> None:
        self.path = str(path)
        try:
            self.con = duckdb.connect(self.path)
        except duckdb.Error as exc:
            raise InputError(f"cannot open the database: {exc}", path=self.path) from exc
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute(PORTABLE_MACROS)
        # past this DuckDB spills to a temporary folder beside the database instead of growing
        self.con.execute("SET memory_limit = ?", [memory_limit])
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        self._staging_ready = False
        self._fresh = False  # ``calls`` was empty: the staging table will become ``calls``
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema -------------------------------------------------------------------------------
    def _ensure_table(self, name: str, schema: pa.Schema, *, temp: bool = False) -> None:
        empty = pa.Table.from_batches([], schema=schema)
        self.con.register("_empty", empty)
        kind = "TEMP TABLE" if temp else "TABLE"
        self.con.execute(f"CREATE {kind} IF NOT EXISTS {name} AS SELECT * FROM _empty WHERE false")
        self.con.unregister("_empty")

    def has_table(self, name: str) -> bool:
        rows = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
        ).fetchall()
        return bool(rows and rows[0][0])

    # -- calls --------------------------------------------------------------------------------
    def stage(self, batch: pa.RecordBatch) -> None:
        """Queue one feature batch for the staging table (merged by ``merge_staged``).

        Batches are inserted in groups of about ``STAGE_ROWS`` rows: DuckDB's cost per insert
        is high next to its cost per row.
        """
        if not self._staging_ready:
            self._ensure_table("calls", batch.schema)
            self._fresh = self._scalar("SELECT count(*) FROM calls") == 0
            self.con.execute("DROP TABLE IF EXISTS _staging")  # a temporary or a leftover one
            self._ensure_table("_staging", batch.schema, temp=not self._fresh)
            self._staging_ready = True
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        if self._pending_rows >= STAGE_ROWS:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        self.con.register("_batch", pa.Table.from_batches(self._pending))
        self.con.execute("INSERT INTO _staging SELECT * FROM _batch")
        self.con.unregister("_batch")
        self._pending = []
        self._pending_rows = 0

    def merge_staged(self) -> MergeResult:
        """Move staged rows into ``calls``: the first copy of each new request_id wins."""
        if not self._staging_ready:
            return MergeResult(0, 0)
        self._flush()
        if self._fresh:
            return self._rename_staged()
        staged = self._scalar("SELECT count(*) FROM _staging")
        before = self._scalar("SELECT count(*) FROM calls")
        repeated = staged - self._scalar("SELECT count(DISTINCT request_id) FROM _staging")
        if repeated:  # the first copy of an id repeated within this run wins
            self.con.execute(
                """
                INSERT INTO calls
                SELECT * EXCLUDE (_rank) FROM (
                    SELECT s.*, row_number() OVER (
                        PARTITION BY s.request_id ORDER BY s.source, s.line) AS _rank
                    FROM _staging s
                    ANTI JOIN calls c ON c.request_id = s.request_id
                ) WHERE _rank = 1
                """
            )
        else:
            self.con.execute("INSERT INTO calls SELECT s.* FROM _staging s "
                             "ANTI JOIN calls c ON c.request_id = s.request_id")
        self.con.execute("DROP TABLE _staging")
        self._staging_ready = False
        added = self._scalar("SELECT count(*) FROM calls") - before
        return MergeResult(added, staged - added)

    def _rename_staged(self) -> MergeResult:
        """End a load into an empty ``calls``: drop repeated ids, then rename (no copy).

        The first copy of a repeated id (by source, line) is kept, as ``merge_staged`` does.
        """
        self._staging_ready = False
        self._fresh = False
        staged = self._scalar("SELECT count(*) FROM _staging")
        if staged != self._scalar("SELECT count(DISTINCT request_id) FROM _staging"):
            self.con.execute(
                """
                DELETE FROM _staging WHERE rowid IN (
                    SELECT rowid FROM (
                        SELECT rowid, row_number() OVER (
                            PARTITION BY request_id ORDER BY source, line) AS _rank
                        FROM _staging)
                    WHERE _rank > 1)
                """
            )
        self.con.execute("BEGIN TRANSACTION")
        try:
            self.con.execute("DROP TABLE calls")
            self.con.execute("ALTER TABLE _staging RENAME TO calls")
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        added = self._scalar("SELECT count(*) FROM calls")
        return MergeResult(added, staged - added)

    def count_calls(self) -> int:
        return self._scalar("SELECT count(*) FROM calls") if self.has_table("calls") else 0

    # -- accounts -----------------------------------------------------------------------------
    def upsert_accounts(self, table: pa.Table) -> int:
        """Insert or replace account rows (the latest accounts file wins)."""
        self._ensure_table("accounts", table.schema)
        self.con.register("_acc", table)
        self.con.execute("DELETE FROM accounts WHERE account_id IN (SELECT account_id FROM _acc)")
        self.con.execute("INSERT INTO accounts SELECT * FROM _acc")
        self.con.unregister("_acc")
        return table.num_rows

    def ensure_accounts(self, schema: pa.Schema) -> None:
        self._ensure_table("accounts", schema)

    # -- queries ------------------------------------------------------------------------------
    def query_arrow(self, sql: str, params: list[Any] | dict[str, Any] | None = None
                    ) -> pa.Table:
        return self.con.sql(sql, params=params or None).to_arrow_table()

    # -- the engine-neutral surface the analysis stages use (engine/_tables.py) ---------------
    def register_table(self, name: str, table: pa.Table) -> None:
        self.con.register("_arrow_in", table)
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM _arrow_in")
        self.con.unregister("_arrow_in")

    def create_view(self, name: str, sql: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {sql}")

    def materialize(self, name: str, sql: str,
                    params: list[Any] | dict[str, Any] | None = None) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}", params or None)

    def _scalar(self, sql: str) -> int:
        rows = self.con.execute(sql).fetchall()
        return int(rows[0][0]) if rows else 0
