"""A real distributed run: a Spark standalone master and worker on loopback, the scan submitted
to it through the CLI, and its outputs compared with DuckDB's."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from distillwatch.cli import cli
from spark_support import SRC, assert_same_outputs, make_logs, require_spark, standalone_cluster

require_spark()

pytestmark = pytest.mark.slow


def test_scan_on_a_standalone_cluster_matches_duckdb(tmp_path: Path) -> None:
    inputs, accounts = make_logs(tmp_path)
    runner = CliRunner()
    duck = runner.invoke(cli, ["scan", *inputs, "--accounts", accounts, "--out",
                               str(tmp_path / "duck"), "--db", str(tmp_path / "d.duckdb"), "-q"])
    assert duck.exit_code == 0, duck.output
    with standalone_cluster(tmp_path / "cluster") as master:
        conf = [f"spark.executorEnv.PYTHONPATH={SRC}", f"spark.pyspark.python={sys.executable}",
                "spark.driver.host=127.0.0.1", "spark.driver.bindAddress=127.0.0.1",
                "spark.executor.memory=1g", "spark.cores.max=2"]
        result = runner.invoke(cli, [
            "scan", *inputs, "--accounts", accounts, "--out", str(tmp_path / "spark"),
            "--engine", "spark", "--spark-master", master,
            *[arg for c in conf for arg in ("--spark-conf", c)], "-q"])
        assert result.exit_code == 0, result.output
        # the work ran on the cluster's executor, not in the driver
        assert any((tmp_path / "cluster" / "work").glob("app-*/0/stderr"))
    assert_same_outputs(tmp_path / "duck", tmp_path / "spark")


def test_bad_spark_conf_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["scan", "x.jsonl", "--out", "o", "--engine", "spark",
                                      "--spark-conf", "no-equals-sign"])
    assert result.exit_code == 2 and "KEY=VALUE" in result.output


def test_engine_choices_are_checked_before_anything_starts(tmp_path: Path) -> None:
    from distillwatch.errors import ConfigError
    from distillwatch.scan import ScanOptions, scan

    with pytest.raises(ConfigError, match="DuckDB engine only"):
        scan(["x.jsonl"], ScanOptions(out=tmp_path, engine="spark", fmt="litellm"))
    with pytest.raises(ConfigError, match="unknown engine"):
        scan(["x.jsonl"], ScanOptions(out=tmp_path, engine="flink"))
