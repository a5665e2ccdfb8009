"""What the analysis stages need from an engine: SQL over named tables, Arrow out.

Profiles, topic sampling, candidate edges, cluster scoring and findings all talk to this
protocol, never to a connection, so one SQL text per stage runs on DuckDB (the ``Store``) and
on Spark (``SparkTables``). Parameters are bound, never pasted into the text: positional ``?``
as a list, or ``$name`` as a dict (the Spark adapter rewrites ``$name`` to its ``:name``).
"""

from __future__ import annotations

from typing import Any, Protocol

import pyarrow as pa

__all__ = ["Params", "Tables"]

Params = list[Any] | dict[str, Any] | None


class Tables(Protocol):
    """Named tables an engine can query; implemented by ``Store`` and ``SparkTables``."""

    def query_arrow(self, sql: str, params: Params = None) -> pa.Table:
        """Run one query and return its result as an Arrow table."""
        ...

    def register_table(self, name: str, table: pa.Table) -> None:
        """Make a small driver-side Arrow table queryable as ``name`` (replacing it)."""
        ...

    def create_view(self, name: str, sql: str) -> None:
        """Name a parameter-free query (replacing any view of that name)."""
        ...

    def materialize(self, name: str, sql: str, params: Params = None) -> None:
        """Compute a query once and keep its rows as ``name`` for the following queries."""
        ...

    def ensure_accounts(self, schema: pa.Schema) -> None:
        """Create an empty ``accounts`` table when the scan had no accounts file."""
        ...

    def count_calls(self) -> int:
        """Rows in ``calls`` (0 when there is none yet)."""
        ...
