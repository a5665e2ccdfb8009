"""Spark engine entry points (import only where PySpark is installed: ``pip install
distillwatch[spark]``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from distillwatch.errors import ConfigError

try:
    from distillwatch.engine._spark import (
        SparkTables,
        is_parquet,
        read_calls,
        spark_ddl,
        spark_load_partials,
        spark_read_state_accounts,
        spark_save_partials,
        spark_session,
        spark_write_state_accounts,
    )
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ConfigError("the Spark engine needs PySpark: pip install 'distillwatch[spark]' "
                      f"(and Java 17) ({exc})") from exc

__all__ = ["SparkTables", "is_parquet", "read_calls", "spark_ddl", "spark_load_partials",
           "spark_read_state_accounts", "spark_save_partials", "spark_session", "spark_tables",
           "spark_write_state_accounts"]


@contextmanager
def spark_tables(master: str | None = None, conf: Sequence[tuple[str, str]] = ()
                 ) -> Iterator[SparkTables]:
    """A ``SparkTables`` for one scan; stops the session afterwards if it started it."""
    spark, started = spark_session(master, conf)
    tables = SparkTables(spark)
    try:
        yield tables
    finally:
        tables.close()
        if started:
            spark.stop()
