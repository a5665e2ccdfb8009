"""The Spark engine gives exactly what DuckDB gives (local[2]; the standalone cluster run is in
test_spark_cluster.py). One Spark session is shared by the module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from distillwatch.convert import convert_to_parquet
from distillwatch.detect import AccountScorer
from distillwatch.ingest import ACCOUNTS_SCHEMA, ReadStats, Store, read_accounts
from distillwatch.profile import account_profiles
from distillwatch.scan import ScanOptions, ScanSummary, ingest, scan
from spark_support import (
    assert_same,
    assert_same_outputs,
    make_logs,
    require_spark,
    split_by_day,
)

require_spark()

from distillwatch.engine.spark import (  # noqa: E402 - after the skip check
    SparkTables,
    is_parquet,
    read_calls,
    spark_ddl,
    spark_session,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], str, Path]:
    folder = tmp_path_factory.mktemp("spark-logs")
    inputs, accounts = make_logs(folder)
    return inputs, accounts, folder


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    session, started = spark_session("local[2]")
    assert started
    yield session
    session.stop()


@pytest.fixture(scope="module")
def duck(logs: tuple[list[str], str, Path]) -> tuple[Path, ScanSummary]:
    inputs, accounts, folder = logs
    out = folder / "duck"
    summary = scan(inputs, ScanOptions(out=out, db=folder / "duck.duckdb", accounts=accounts))
    return out, summary


def test_spark_scan_matches_duckdb(spark: Any, duck: tuple[Path, ScanSummary],
                                   logs: tuple[list[str], str, Path]) -> None:
    inputs, accounts, folder = logs
    out = folder / "spark"
    summary = scan(inputs, ScanOptions(out=out, accounts=accounts, engine="spark"))
    duck_out, duck_summary = duck
    assert_same_outputs(duck_out, out)
    # the fixture has rings, verdicts of every kind, bad lines and a repeated call
    assert duck_summary.clusters >= 1 and duck_summary.harvesting >= 1
    assert duck_summary.read.bad == 4 and duck_summary.duplicates == 1
    got, want = summary.as_dict(), duck_summary.as_dict()
    for key in ("files", "lines", "good_lines", "bad_lines", "bad_by_file", "bad_examples",
                "added", "duplicates", "calls", "accounts", "harvesting", "suspicious",
                "clusters", "clustered_accounts"):
        assert got[key] == want[key], key


def _columns_equal(a: pa.Table, b: pa.Table) -> None:
    assert a.column_names == b.column_names
    for name in a.column_names:
        x, y = a.column(name).to_pylist(), b.column(name).to_pylist()
        if pa.types.is_floating(a.schema.field(name).type):
            assert_same([v if v is not None else float("nan") for v in x],
                        [v if v is not None else float("nan") for v in y], name)
        else:
            assert x == y, name


def test_profiles_from_parquet_equal_duckdb_in_every_column(
        spark: Any, logs: tuple[list[str], str, Path]) -> None:
    """Converted Parquet read by Spark profiles exactly as the logs read by DuckDB."""
    inputs, accounts, folder = logs
    stats = convert_to_parquet(inputs, folder / "parquet")
    assert stats.bad == 4 and is_parquet(str(folder / "parquet"))
    assert sorted(p.name for p in (folder / "parquet").iterdir())[0].startswith("day=")
    with Store(folder / "profiles.duckdb") as store:
        ingest(store, inputs, ScanOptions(out=folder, accounts=accounts), ScanSummary())
        want = account_profiles(store)
    tables = SparkTables(spark)
    try:
        tables.register_table("accounts", read_accounts(accounts))
        merged = read_calls(tables, [str(folder / "parquet")], stats=ReadStats())
        assert merged.duplicates == 1
        got = account_profiles(tables)
    finally:
        tables.close()
    _columns_equal(want, got)
    risk_d = AccountScorer().fit(want).score(want).risk
    risk_s = AccountScorer().fit(got).score(got).risk
    assert np.allclose(risk_d, risk_s, rtol=0, atol=1e-9)


def test_spark_ddl_comes_from_the_arrow_schema() -> None:
    assert spark_ddl(ACCOUNTS_SCHEMA) == (
        "`account_id` STRING, `created_at` TIMESTAMP, `payment_fingerprint` STRING, "
        "`email_domain` STRING, `country` STRING, `tier` STRING, `allowlisted` BOOLEAN")
    with pytest.raises(TypeError, match="no Spark type"):
        spark_ddl(pa.schema([("x", pa.list_(pa.int8()))]))


def test_named_parameters_bind_on_spark(spark: Any) -> None:
    tables = SparkTables(spark)
    got = tables.query_arrow("SELECT $a + 1 AS x, $b AS y", {"a": 41, "b": "z"})
    assert got.to_pylist() == [{"x": 42, "y": "z"}]
    assert tables.query_arrow("SELECT ? AS x", [7]).column("x").to_pylist() == [7]


def test_a_store_adds_new_logs_without_reparsing_history(
        spark: Any, logs: tuple[list[str], str, Path]) -> None:
    """Two runs into a --spark-store hold exactly what one DuckDB run over all logs holds."""
    import gzip

    inputs, _accounts, folder = logs
    lines = gzip.decompress(Path(inputs[0]).read_bytes()).splitlines(keepends=True)
    early, late = folder / "early.jsonl", folder / "late.jsonl"
    early.write_bytes(b"".join(lines[: len(lines) // 2]))
    late.write_bytes(b"".join(lines[len(lines) // 3:]))  # overlaps the first run
    store = str(folder / "store")
    tables = SparkTables(spark)
    try:
        first = read_calls(tables, [str(early)], stats=ReadStats(), store=store)
        assert (first.added, first.duplicates) == (len(lines) // 2, 0)
        tables.close()
        second = read_calls(tables, [str(late)], stats=ReadStats(), store=store)
        assert second.added == len(lines) - len(lines) // 2
        assert second.duplicates == len(lines) // 2 - len(lines) // 3
        got = tables.query_arrow("SELECT request_id, source, line, prompt_hash FROM calls "
                                 "ORDER BY request_id")
    finally:
        tables.close()
    with Store(folder / "store.duckdb") as duck:
        for name in (early, late):
            ingest(duck, [str(name)], ScanOptions(out=folder), ScanSummary())
        want = duck.query_arrow("SELECT request_id, source, line, prompt_hash FROM calls "
                                "ORDER BY request_id")
    assert got.to_pylist() == want.to_pylist()
    assert {p.name for p in Path(store).iterdir() if p.name.startswith("day=")}


def test_incremental_days_equal_a_full_duckdb_scan(
        spark: Any, logs: tuple[list[str], str, Path]) -> None:
    """Day 1 then day 2 on Spark with --incremental (the second run reads only day 2's logs and
    the stored partials) equal DuckDB's full scan of both days; DuckDB then continues the same
    state folder with day 3 and equals its full scan of all three."""
    inputs, accounts, folder = logs
    days = split_by_day(Path(inputs[0]), folder / "days")
    assert len(days) == 3
    state = folder / "inc-state"
    for i, name in enumerate(days[:2]):
        scan([name], ScanOptions(out=folder / "inc-spark", accounts=accounts if i == 0 else None,
                                 engine="spark", incremental=str(state)))
    scan(days[:2], ScanOptions(out=folder / "full-2", db=folder / "full-2.duckdb",
                               accounts=accounts, workers=1))
    assert_same_outputs(folder / "full-2", folder / "inc-spark")
    scan([days[2]], ScanOptions(out=folder / "inc-duck", incremental=str(state), workers=1))
    scan(days, ScanOptions(out=folder / "full-3", db=folder / "full-3.duckdb",
                           accounts=accounts, workers=1))
    assert_same_outputs(folder / "full-3", folder / "inc-duck")


def test_an_empty_state_loads_as_empty_partials_on_spark(spark: Any, tmp_path: Path) -> None:
    from distillwatch.engine.spark import spark_load_partials

    tables = SparkTables(spark)
    try:
        prefix = spark_load_partials(tables, str(tmp_path / "state"))
        examples = tables.query_arrow(f"SELECT * FROM {prefix}examples")
        assert examples.num_rows == 0 and "request_id" in examples.column_names
        assert tables.query_arrow(f"SELECT * FROM {prefix}timeline").column_names == [
            "account_id", "day", "ts_ms", "k"]
    finally:
        tables.close()
