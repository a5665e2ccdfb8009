"""``distillwatch scan``."""

from __future__ import annotations

from pathlib import Path

import click

from distillwatch.cli._console import err_console, print_bad_lines, scan_progress, summary_table
from distillwatch.engine import ENGINES
from distillwatch.ingest import FORMATS
from distillwatch.scan import ScanOptions
from distillwatch.scan import scan as run_scan

__all__ = ["scan"]


def _parse_conf(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
                ) -> tuple[tuple[str, str], ...]:
    pairs = []
    for value in values:
        key, sep, setting = value.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{value!r} is not KEY=VALUE")
        pairs.append((key.strip(), setting))
    return tuple(pairs)


@click.command("scan")
@click.argument("traffic", nargs=-1, required=True)
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for accounts.csv, findings.jsonl and report.html.")
@click.option("--accounts", "accounts", type=click.Path(dir_okay=False), default=None,
              help="Accounts file (JSONL: created_at, payment_fingerprint, allowlisted, ...).")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("distillwatch.duckdb"), show_default=True,
              help="DuckDB file that keeps the calls; later scans add to it.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="traffic",
              show_default=True,
              help="Input format: traffic-log v1, LiteLLM spend logs, or OTel GenAI spans.")
@click.option("--strict", is_flag=True, help="Stop at the first bad line instead of skipping it.")
@click.option("--redact", is_flag=True,
              help="Show prompts and responses in reports only as hashes and lengths.")
@click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True,
              help="Processes that parse and featurise calls (0: one per core for large "
                   "inputs; 1: no extra process).")
@click.option("--link/--no-link", default=True, show_default=True,
              help="Link accounts into operations (rings) and score each as one.")
@click.option("--engine", type=click.Choice(ENGINES), default="duckdb", show_default=True,
              help="Where the scan runs: embedded DuckDB, or Apache Spark for logs too big for "
                   "one machine (same results; needs the 'spark' extra and Java 17).")
@click.option("--spark-master", default=None, metavar="URL",
              help="Spark master for --engine spark, e.g. spark://host:7077, yarn, local[4] "
                   "[default: local[*]].")
@click.option("--spark-conf", "spark_conf", multiple=True, metavar="KEY=VALUE",
              callback=_parse_conf,
              help="A Spark setting for --engine spark (repeatable), e.g. "
                   "spark.executor.memory=8g.")
@click.option("--spark-store", default=None, metavar="PATH",
              help="For --engine spark: a folder (local, hdfs://, s3a://) that keeps the "
                   "featurised calls as Parquet by day, as --db does for DuckDB; a later scan "
                   "parses only its new logs and profiles the whole history.")
@click.option("--incremental", "incremental", default=None, metavar="STATE_DIR",
              help="Keep per-account state as per-day partial aggregates in STATE_DIR (local, "
                   "or hdfs:// / s3a:// with --engine spark): each run reads only its own logs "
                   "(e.g. one day's), replaces the stored partials of the days they cover, and "
                   "reports on every stored day, exactly as a full rescan would. --db is not "
                   "used; --accounts is remembered across runs.")
@click.option("--quiet", "-q", is_flag=True, help="No progress display or summary.")
def scan(traffic: tuple[str, ...], out: Path, accounts: str | None, db: Path, fmt: str,
         strict: bool, redact: bool, workers: int, link: bool, engine: str,
         spark_master: str | None, spark_conf: tuple[tuple[str, str], ...],
         spark_store: str | None, incremental: str | None, quiet: bool) -> None:
    """Rank the accounts in TRAFFIC logs by how likely they harvest outputs for distillation.

    TRAFFIC is one or more traffic-log files (.jsonl, .jsonl.gz or .jsonl.zst), folders,
    globs, or - for stdin. With --engine spark, TRAFFIC may also be Parquet folders made by
    `distillwatch convert`, and any path Spark reads (hdfs://, s3a://); --db is not used. Bad
    lines are counted and reported with file, line and field, and never stop the scan unless
    --strict.
    Writes OUT/accounts.csv (every account: risk, verdict, linked operation, reasons),
    OUT/findings.jsonl (evidence per flagged operation and account) and OUT/report.html (case
    files).

    \b
    Example:
      distillwatch scan logs/2026-11-*.jsonl.gz --accounts accounts.jsonl --out scan-out
      distillwatch scan logs-parquet/ --engine spark --spark-master spark://head:7077 \\
          --spark-conf spark.executor.memory=8g --out scan-out
      distillwatch scan logs/2026-11-25.jsonl.gz --incremental state/ --out scan-out
    """
    options = ScanOptions(out=out, db=db, accounts=accounts, fmt=fmt, strict=strict,
                          redact=redact, workers=workers, link=link, engine=engine,
                          spark_master=spark_master, spark_conf=spark_conf,
                          spark_store=spark_store, incremental=incremental)
    with scan_progress(enabled=not quiet) as (on_rows, on_stage):
        summary = run_scan(traffic, options, on_rows=on_rows, on_stage=on_stage)
    if not quiet:
        err_console.print(summary_table(summary))
        print_bad_lines(summary.read.bad_examples)
        if summary.read.bad > 10:
            err_console.print(f"... and {summary.read.bad - 10:,} more bad lines "
                              f"(listed in {summary.outputs.get('report')})")
