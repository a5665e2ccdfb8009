"""Incremental scans: day N+1 from its own logs plus the stored per-day partials gives what a
full rescan of every day gives (DuckDB here; the Spark run is in test_spark.py)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from distillwatch.engine._state import duckdb_load_partials, merge_accounts
from distillwatch.errors import ConfigError
from distillwatch.ingest import ACCOUNTS_SCHEMA, Store
from distillwatch.profile import account_profiles, calls_view_sql
from distillwatch.scan import ScanOptions, scan
from spark_support import assert_same, assert_same_outputs, split_by_day


@pytest.fixture(scope="module")
def days(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], str, Path]:
    from distillwatch.sim import simulate

    folder = tmp_path_factory.mktemp("incremental")
    simulate(out=folder / "sim", scenario="demo", accounts=60, days=3, seed=3)
    return (split_by_day(folder / "sim" / "traffic.jsonl.gz", folder / "days"),
            str(folder / "sim" / "accounts.jsonl"), folder)


@pytest.fixture(scope="module")
def full(days: tuple[list[str], str, Path]) -> Path:
    files, accounts, folder = days
    out = folder / "full"
    scan(files, ScanOptions(out=out, db=folder / "full.duckdb", accounts=accounts, workers=1))
    return out


def _incremental(files: list[str], accounts: str, state: Path, out: Path) -> int:
    """Scan each day's file in turn into ``state`` (accounts given on the first day only)."""
    calls = 0
    for i, name in enumerate(files):
        summary = scan([name], ScanOptions(out=out, accounts=accounts if i == 0 else None,
                                           incremental=str(state), workers=1))
        calls = summary.calls
    return calls


def test_incremental_equals_full_rescan(days: tuple[list[str], str, Path], full: Path) -> None:
    files, accounts, folder = days
    assert len(files) >= 3
    state, out = folder / "state", folder / "inc"
    calls = _incremental(files, accounts, state, out)
    assert_same_outputs(full, out)  # every accounts.csv column, every finding (floats 1e-9)
    with Store(folder / "full.duckdb") as store:
        assert calls == store.count_calls()
        # the profile table itself: every column, exact ones exactly, floats to 1e-9
        want = account_profiles(store)
        store.create_view("_dw_c", calls_view_sql())
        got = account_profiles(store, partials=duckdb_load_partials(store, state))
    assert got.column_names == want.column_names and got.num_rows == want.num_rows
    for name in want.column_names:
        x, y = want.column(name).to_pylist(), got.column(name).to_pylist()
        if pa.types.is_floating(want.schema.field(name).type):
            nan = float("nan")
            assert_same([nan if v is None else v for v in x],
                        [nan if v is None else v for v in y], name)
        else:
            assert x == y, name
    # a run reads only its own day: the state holds partials, one folder per day, no calls
    assert sorted(p.name for p in (state / "base").iterdir()) == [
        f"day={Path(f).stem}" for f in files]
    assert not (state / "run.duckdb").exists()


def test_rerunning_a_day_replaces_it(days: tuple[list[str], str, Path], full: Path) -> None:
    files, accounts, folder = days
    state, out = folder / "state-rerun", folder / "inc-rerun"
    _incremental(files, accounts, state, out)
    again = scan([files[1]], ScanOptions(out=out, incremental=str(state), workers=1))
    assert again.added > 0
    assert_same_outputs(full, out)


def test_incremental_refuses_spark_store(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="choose one"):
        scan(["x.jsonl"], ScanOptions(out=tmp_path, incremental=str(tmp_path / "s"),
                                      spark_store=str(tmp_path / "c")))


def test_merge_accounts_newest_wins() -> None:
    old = pa.table({"account_id": ["a", "b"], "tier": ["free", "pro"]})
    new = pa.table({"account_id": ["b", "c"], "tier": ["team", "free"]})
    full_schema = [pa.Table.from_pylist([{**r, **{f: None for f in ACCOUNTS_SCHEMA.names
                                                  if f not in r}} for r in t.to_pylist()],
                                        schema=ACCOUNTS_SCHEMA) for t in (old, new)]
    merged = merge_accounts(*full_schema)
    assert merged is not None
    assert merged.select(["account_id", "tier"]).to_pylist() == [
        {"account_id": "a", "tier": "free"}, {"account_id": "b", "tier": "team"},
        {"account_id": "c", "tier": "free"}]
    assert merge_accounts(None, None) is None


def test_cli_incremental(days: tuple[list[str], str, Path], full: Path) -> None:
    from click.testing import CliRunner

    from distillwatch.cli import cli

    files, accounts, folder = days
    state = folder / "cli-state"
    for i, name in enumerate(files):
        extra = ["--accounts", accounts] if i == 0 else []
        result = CliRunner().invoke(cli, ["scan", name, "--incremental", str(state), "--out",
                                          str(folder / "cli-out"), "-q", "--workers", "1",
                                          *extra], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    assert_same_outputs(full, folder / "cli-out")
    help_text = CliRunner().invoke(cli, ["scan", "--help"]).output
    assert "--incremental" in help_text and "STATE_DIR" in help_text


def test_an_empty_state_gives_empty_partials_of_the_right_shape(tmp_path: Path) -> None:
    with Store(tmp_path / "x.duckdb") as store:  # no calls table at all
        prefix = duckdb_load_partials(store, tmp_path / "state")
        store.ensure_accounts(ACCOUNTS_SCHEMA)
        examples = store.query_arrow(f"SELECT * FROM {prefix}examples")
        assert examples.num_rows == 0 and "request_id" in examples.column_names
        assert account_profiles(store, partials=prefix).num_rows == 0


def test_a_run_without_usable_calls(days: tuple[list[str], str, Path], tmp_path: Path) -> None:
    from distillwatch.errors import InputError

    files, accounts, _folder = days
    junk = tmp_path / "junk.jsonl"
    junk.write_text("{not json\n")
    state = tmp_path / "state"
    with pytest.raises(InputError, match="no usable call"):
        scan([str(junk)], ScanOptions(out=tmp_path / "o", incremental=str(state), workers=1))
    scan([files[0]], ScanOptions(out=tmp_path / "a", accounts=accounts, incremental=str(state),
                                 workers=1))
    # nothing new: the stored days are reported again, unchanged
    again = scan([str(junk)], ScanOptions(out=tmp_path / "b", incremental=str(state),
                                          workers=1))
    assert again.read.bad == 1 and again.added == 0 and again.calls > 0
    assert_same_outputs(tmp_path / "a", tmp_path / "b")
