"""The Spark adapter: session settings, intermediate tables, and reading logs into ``calls``.

Everything here is engine plumbing; the per-call code runs through ``engine._mapper`` (the same
functions as the DuckDB path) and every query is a shared SQL text run through ``SparkTables``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from datetime import date
from functools import partial
from pathlib import Path
from urllib.parse import unquote, urlparse

import pyarrow as pa
from pyspark import StorageLevel
from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.window import Window

import distillwatch
from distillwatch.engine._mapper import MAPPED_SCHEMA, featurise_canonical, featurise_files
from distillwatch.engine._tables import Params
from distillwatch.errors import ConfigError, InputError
from distillwatch.features import CALL_FEATURES_SCHEMA
from distillwatch.ingest import CANONICAL_SCHEMA, STDIN, BadLine, MergeResult, ReadStats

__all__ = ["SESSION_DEFAULTS", "SparkTables", "is_parquet", "read_calls", "spark_ddl",
           "spark_load_partials", "spark_read_state_accounts", "spark_save_partials",
           "spark_session", "spark_write_state_accounts"]

#: Settings every distillwatch session gets (``--spark-conf`` may override all but the zone).
SESSION_DEFAULTS: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",  # EXTRACT(HOUR), CAST(ts AS DATE) as DuckDB's UTC
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}

#: Shuffle partitions per core when ``--spark-conf`` does not set them: enough tasks to spread
#: a skewed account mix, few enough that small scans do not drown in task overhead (adaptive
#: execution coalesces small partitions on top of this).
PARTITIONS_PER_CORE = 3

_KEEP_BAD = 50

_SPARK_TYPES = {
    pa.string(): "STRING", pa.int32(): "INT", pa.int64(): "BIGINT", pa.float64(): "DOUBLE",
    pa.bool_(): "BOOLEAN", pa.binary(): "BINARY", pa.date32(): "DATE",
}


def spark_ddl(schema: pa.Schema) -> str:
    """Spark's DDL for an Arrow schema: the schema is declared once, in Arrow."""
    parts = []
    for f in schema:
        if pa.types.is_timestamp(f.type):
            kind = "TIMESTAMP"
        elif f.type in _SPARK_TYPES:
            kind = _SPARK_TYPES[f.type]
        else:
            raise TypeError(f"no Spark type for {f.name}: {f.type}")
        parts.append(f"`{f.name}` {kind}")
    return ", ".join(parts)


def _package_root() -> str:
    return str(Path(distillwatch.__file__).resolve().parents[1])


def spark_session(master: str | None = None, conf: Sequence[tuple[str, str]] = ()
                  ) -> tuple[SparkSession, bool]:
    """The active session (made by the caller, e.g. a test) or a new one; and whether it is new.

    Executors import distillwatch to run the feature function: unless ``--spark-conf
    spark.executorEnv.PYTHONPATH=...`` says otherwise, they get this process's package folder,
    which is right wherever the cluster shares this file system (a standalone cluster on the
    same host, a shared home); elsewhere install distillwatch on the workers.
    """
    settings = {**SESSION_DEFAULTS, **dict(conf)}
    settings["spark.sql.session.timeZone"] = "UTC"
    active = SparkSession.getActiveSession()
    if active is not None:
        for key in ("spark.sql.session.timeZone", "spark.sql.execution.arrow.pyspark.enabled"):
            active.conf.set(key, settings[key])
        return active, False
    path = os.pathsep.join(p for p in (_package_root(), os.environ.get("PYTHONPATH")) if p)
    settings.setdefault("spark.executorEnv.PYTHONPATH", path)
    builder = SparkSession.builder.appName("distillwatch").master(master or "local[*]")
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # Java missing, a bad master URL, a bad setting
        raise ConfigError(f"cannot start Spark ({master or 'local[*]'}): {exc}") from exc
    spark.sparkContext.setLogLevel("ERROR")  # Spark's own warnings are not the user's concern
    if "spark.sql.shuffle.partitions" not in settings:
        cores = spark.sparkContext.defaultParallelism
        spark.conf.set("spark.sql.shuffle.partitions", str(max(8, PARTITIONS_PER_CORE * cores)))
    return spark, True


class SparkTables:
    """``engine.Tables`` on a Spark session: temp views, cached where a table is reused."""

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark
        self._cached: list[DataFrame] = []

    def query_arrow(self, sql: str, params: Params = None) -> pa.Table:
        return self._df(sql, params).toArrow()

    def _df(self, sql: str, params: Params) -> DataFrame:
        if isinstance(params, dict):  # DuckDB's $name markers are Spark's :name
            sql = re.sub(r"\$([A-Za-z_]\w*)", r":\1", sql)
        return self.spark.sql(sql, args=params or None)

    def register_table(self, name: str, table: pa.Table) -> None:
        self.spark.createDataFrame(table).createOrReplaceTempView(name)

    def create_view(self, name: str, sql: str) -> None:
        self.spark.sql(sql).createOrReplaceTempView(name)

    def materialize(self, name: str, sql: str, params: Params = None) -> None:
        self.keep(name, self._df(sql, params))

    def keep(self, name: str, df: DataFrame) -> DataFrame:
        """Compute ``df`` now, keep its rows on the executors (memory, spilling to disk), name it.

        A local checkpoint rather than ``cache()``: later queries see a plain table, not the
        plan that made it. A cached parameterised query is not recognised again (its bound
        plan differs), and long plans cost more to ship to every task than small tables.
        """
        df = df.localCheckpoint(eager=True, storageLevel=StorageLevel.MEMORY_AND_DISK)
        self._cached.append(df)
        df.createOrReplaceTempView(name)
        return df

    def ensure_accounts(self, schema: pa.Schema) -> None:
        if not self.spark.catalog.tableExists("accounts"):
            self.register_table("accounts", pa.Table.from_batches([], schema=schema))

    def count_calls(self) -> int:
        if not self.spark.catalog.tableExists("calls"):
            return 0
        return int(self.spark.table("calls").count())

    def close(self) -> None:
        for df in self._cached:
            df.unpersist()
        self._cached = []
        for view in self.spark.catalog.listTables():
            if view.isTemporary:
                self.spark.catalog.dropTempView(view.name)


# -- reading ---------------------------------------------------------------------------------

def is_parquet(name: str) -> bool:
    """Parquet input: a ``.parquet`` file, or a folder of them as ``distillwatch convert`` makes."""
    if name.rstrip("/").endswith(".parquet"):
        return True
    path = Path(name)
    return path.is_dir() and any(path.rglob("*.parquet"))


#: A remote path (hdfs://, s3a://) is read as logs when it ends so, else as Parquet.
_LOG_SUFFIXES = (".jsonl", ".jsonl.gz", ".jsonl.zst", ".json", ".json.gz", ".json.zst", ".gz",
                 ".zst", ".txt")


def _is_remote(name: str) -> bool:
    return "://" in name


def _reads_as_parquet(name: str) -> bool:
    if name.endswith(_LOG_SUFFIXES):
        return False
    return _is_remote(name) or is_parquet(name)


def _local_key(uri: str) -> str:
    """A path Spark reports (``file:/x/y``) and a path a user gave, made comparable."""
    parsed = urlparse(uri)
    if parsed.scheme not in ("", "file"):
        return uri
    return str(Path(unquote(parsed.path)).resolve())


def _mapped(spark: SparkSession, jsonl: list[str], parquet: list[str]) -> DataFrame:
    """All inputs through the shared per-call code: one row per line, bad lines marked."""
    ddl = spark_ddl(MAPPED_SCHEMA)
    parts: list[DataFrame] = []
    if jsonl:
        files = spark.read.format("binaryFile").load(jsonl).select("path", "content")
        given = {(n if _is_remote(n) else _local_key(n)): n for n in jsonl}
        names = {p: given.get(_local_key(p), p)
                 for p in (r.path for r in files.select("path").collect())}
        parts.append(files.mapInArrow(partial(featurise_files, names=names), ddl))
    if parquet:
        canonical = spark.read.parquet(*parquet).select(*[f.name for f in CANONICAL_SCHEMA])
        parts.append(canonical.mapInArrow(featurise_canonical, ddl))
    out = parts[0]
    for part in parts[1:]:
        out = out.unionByName(part)
    return out


def _bad_lines(mapped: DataFrame, order: list[str], stats: ReadStats) -> None:
    """Count bad lines per file and keep the first few, in input then line order."""
    bad = mapped.where(F.col("bad_field").isNotNull())
    counts = {r["source"]: int(r["n"]) for r in bad.groupBy("source").agg(
        F.count(F.lit(1)).alias("n")).collect()}
    first = bad.withColumn("_r", F.row_number().over(
        Window.partitionBy("source").orderBy("line"))).where(F.col("_r") <= _KEEP_BAD)
    rank = {name: i for i, name in enumerate(order)}
    examples = sorted((BadLine(r["source"], int(r["line"]), r["bad_field"], r["bad_message"])
                       for r in first.collect()),
                      key=lambda b: (rank.get(b.path, len(rank)), b.line))
    for source in sorted(counts, key=lambda s: rank.get(s, len(rank))):
        stats.bad += counts[source]
        stats.bad_by_file[source] = counts[source]
    stats.bad_examples.extend(examples[:_KEEP_BAD])


def read_calls(tables: SparkTables, inputs: Sequence[str], *, stats: ReadStats,
               strict: bool = False, store: str | None = None) -> MergeResult:
    """Read traffic logs (JSONL, .gz, .zst) and Parquet into the cached ``calls`` view.

    The first copy of a repeated ``request_id`` wins, ordered by (source, line) exactly as the
    DuckDB store's merge orders them. With ``store`` (a folder on any file system Spark
    writes), calls are kept there as featurised Parquet partitioned by day, like DuckDB's
    ``--db``: a later run parses and featurises only its new logs, adds the calls the store
    does not hold yet, and profiles the whole history from the stored features.
    """
    names: list[str] = []
    for name in inputs:
        if name == STDIN:
            raise ConfigError("the Spark engine reads files, not stdin ('-')")
        if _is_remote(name) or is_parquet(name):
            names.append(name)
        else:
            from distillwatch.ingest import expand_inputs

            names.extend(expand_inputs([name]))
    stats.files.extend(names)
    parquet = [n for n in names if _reads_as_parquet(n)]
    jsonl = [n for n in names if n not in parquet]
    mapped = _mapped(tables.spark, jsonl, parquet).persist(StorageLevel.MEMORY_AND_DISK)
    _bad_lines(mapped, names, stats)
    if strict and stats.bad_examples:
        first = stats.bad_examples[0]
        raise InputError(first.message, path=first.path, line=first.line, field=first.field)
    good = mapped.where(F.col("bad_field").isNull()).drop("bad_field", "bad_message")
    ranked = good.withColumn("_rank", F.row_number().over(
        Window.partitionBy("request_id").orderBy("source", "line")))
    unique = ranked.where(F.col("_rank") == 1).drop("_rank")
    good_rows = int(good.count())
    if store is None:
        added = int(tables.keep("calls", unique).count())
    else:
        added = _merge_into_store(tables, unique, store)
    mapped.unpersist()
    stats.good += good_rows
    stats.rows += good_rows + stats.bad
    return MergeResult(added, good_rows - added)


def _stored(spark: SparkSession, store: str) -> DataFrame | None:
    try:
        df = spark.read.parquet(store)
    except AnalysisException:  # no store yet
        return None
    return df.select(*[f.name for f in CALL_FEATURES_SCHEMA])


def _merge_into_store(tables: SparkTables, new: DataFrame, store: str) -> int:
    """Append the calls ``store`` lacks (anti-join on request_id); ``calls`` = the whole store."""
    history = _stored(tables.spark, store)
    if history is not None:
        new = new.join(history.select("request_id"), "request_id", "left_anti")
    fresh = tables.keep("_fresh", new.select(*[f.name for f in CALL_FEATURES_SCHEMA]))
    added = int(fresh.count())
    if added:
        (fresh.withColumn("day", F.to_date("ts")).write.mode("append").partitionBy("day")
         .parquet(store))
    stored = _stored(tables.spark, store)
    tables.keep("calls", stored if stored is not None else fresh)
    return added


# -- incremental state (layout: engine/_state.py) --------------------------------------------

def _delete_path(spark: SparkSession, path: str) -> None:
    """Remove a folder on whatever file system Spark writes (local, HDFS, s3a)."""
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    fs = hadoop_path.getFileSystem(conf)
    fs.delete(hadoop_path, True)


def _state_path(state: str, name: str) -> str:
    return state.rstrip("/") + "/" + name


def spark_save_partials(tables: SparkTables, state: str) -> list[date]:
    """Compute the run's partials on the executors; replace the stored days the run covers."""
    from distillwatch.profile import PARTIALS, calls_view_sql, partial_sql

    tables.create_view("_dw_c", calls_view_sql())
    # Parquet timestamps as DuckDB and pyarrow read them (Spark's default is the legacy INT96),
    # so a state folder can be continued by either engine
    tables.spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    days = [r.day for r in tables.spark.sql(
        "SELECT DISTINCT CAST(ts AS DATE) AS day FROM calls ORDER BY day").collect()
        if r.day is not None]
    for name in PARTIALS:
        folder = _state_path(state, name)
        for day in days:
            _delete_path(tables.spark, f"{folder}/day={day.isoformat()}")
        tables.spark.sql(partial_sql(name)).write.mode("append").partitionBy("day").parquet(
            folder)
    return days


def spark_load_partials(tables: SparkTables, state: str) -> str:
    """Views ``st_<partial>`` over every stored day; returns the prefix."""
    from distillwatch.engine._state import STATE_PREFIX
    from distillwatch.profile import PARTIALS, empty_partial_sql

    for name in PARTIALS:
        try:
            df = tables.spark.read.parquet(_state_path(state, name))
        except AnalysisException:  # nothing stored for this partial yet
            df = tables.spark.sql(empty_partial_sql(name, tables))
        df.createOrReplaceTempView(f"{STATE_PREFIX}{name}")
    return STATE_PREFIX


def spark_read_state_accounts(tables: SparkTables, state: str) -> pa.Table | None:
    from distillwatch.engine._state import ACCOUNTS_FILE

    try:
        return tables.spark.read.parquet(_state_path(state, ACCOUNTS_FILE)).toArrow()
    except AnalysisException:
        return None


def spark_write_state_accounts(tables: SparkTables, state: str, table: pa.Table) -> None:
    from distillwatch.engine._state import ACCOUNTS_FILE

    (tables.spark.createDataFrame(table).coalesce(1).write.mode("overwrite")
     .parquet(_state_path(state, ACCOUNTS_FILE)))
