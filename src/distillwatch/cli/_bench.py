"""``distillwatch bench``: measure detection quality and cost on a fixed simulated suite."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import click

from distillwatch.bench import SIZES, BenchConfig, run_bench, run_engine_bench

__all__ = ["bench"]


@click.command("bench")
@click.option(
    "--corpora", type=click.Path(exists=True, path_type=Path), default=None,
    help="Prompt corpora for simulate (passed through as --corpora).",
)
@click.option(
    "--size", type=click.Choice([*SIZES, "10m"]), default="small", show_default=True,
    help="Suite size: small (~300 accounts), medium (~3,000), large (~30M calls); with "
    "--engine spark also 10m (the medium mix over 9,000 accounts, about 10M calls).",
)
@click.option(
    "--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Where to write the JSON results [default: bench/results/<size>.json in the "
    "repository, else WORKDIR/bench.json].",
)
@click.option(
    "--workdir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Folder for the suite and the detector outputs [default: a new temporary folder].",
)
@click.option("--keep", is_flag=True, help="Keep the work files (deleted by default).")
@click.option("--forensics", is_flag=True,
              help="Run the forensics lab benchmark instead (marks, students, attacks, nulls; "
              "needs --corpora, default ../shared/data; writes bench/results/forensics.json).")
@click.option(
    "--engine", type=click.Choice(["duckdb", "spark"]), default="duckdb", show_default=True,
    help="spark: instead of detection quality, time DuckDB and Spark side by side on the suite "
    "(calls/s, peak memory, fixed and marginal cost, per-stage shuffle) and check that their "
    "outputs agree [JSON: bench/results/spark-<size>.json].",
)
@click.option("--spark-master", default="local[2]", show_default=True, metavar="URL",
              help="Spark master for --engine spark.")
def bench(
    corpora: Path | None, size: str, json_path: Path | None, workdir: Path | None, keep: bool,
    forensics: bool, engine: str, spark_master: str,
) -> None:
    """Measure detection quality and speed on a fixed simulated suite.

    Runs `distillwatch simulate`, then `scan` and `watch` exactly as a user would (labels are
    never passed to them), and scores their outputs against the labels: AUROC and TPR at low
    FPR, recall and false positives per profile, rings, time to detect, and cost. Commands
    that do not exist yet or fail show as "not available".
    """
    if forensics:
        from distillwatch.forensics.lab.bench import run_and_report

        run_and_report(corpora or Path("../shared/data"),
                       json_path=json_path or Path("bench/results/forensics.json"),
                       workdir=workdir, command=["distillwatch", *sys.argv[1:]])
        return
    if engine == "spark":
        if size == "large":
            raise click.BadParameter("the engine comparison runs the small, medium or 10m "
                                     "suite", param_hint="--size")
        work = workdir or Path(tempfile.mkdtemp(prefix="dw-engine-bench-"))
        try:
            run_engine_bench(size, master=spark_master, workdir=work, json_path=json_path,
                             corpora=corpora, command=" ".join(["distillwatch", *sys.argv[1:]]))
        finally:
            if workdir is None and not keep:
                shutil.rmtree(work, ignore_errors=True)
        return
    if size == "10m":
        raise click.BadParameter("10m is an engine-comparison suite: add --engine spark",
                                 param_hint="--size")
    run_bench(
        BenchConfig(
            size=size, corpora=corpora, json_path=json_path, workdir=workdir, keep=keep,
            command=["distillwatch", *sys.argv[1:]],
        )
    )
