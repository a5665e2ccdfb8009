"""``distillwatch convert``."""

from __future__ import annotations

from pathlib import Path

import click

from distillwatch.cli._console import err_console, print_bad_lines, scan_progress
from distillwatch.convert import convert_to_parquet
from distillwatch.ingest import FORMATS, ReadStats

__all__ = ["convert"]


@click.command("convert")
@click.argument("traffic", nargs=-1, required=True)
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for the Parquet dataset (one day=YYYY-MM-DD folder per day).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="traffic",
              show_default=True, help="Input format, as for scan.")
@click.option("--strict", is_flag=True, help="Stop at the first bad line instead of skipping it.")
@click.option("--quiet", "-q", is_flag=True, help="No progress display or summary.")
def convert(traffic: tuple[str, ...], out: Path, fmt: str, strict: bool, quiet: bool) -> None:
    """Turn traffic logs into Parquet for `scan --engine spark`, partitioned by day.

    A gzip file cannot be split, so Spark gives each one a single task; Parquet row groups
    spread over all executors. Rows are validated and written in the canonical schema; bad
    lines are counted and shown, never written. Converting a new day into the same folder adds
    it beside the earlier days.

    \b
    Example:
      distillwatch convert logs/2026-11-*.jsonl.gz --out logs-parquet
      distillwatch scan logs-parquet --engine spark --out scan-out
    """
    stats = ReadStats()
    with scan_progress(enabled=not quiet) as (on_rows, _on_stage):
        convert_to_parquet(traffic, out, fmt=fmt, strict=strict, stats=stats, on_rows=on_rows)
    if not quiet:
        err_console.print(f"wrote {stats.good:,} calls from {len(stats.files)} file(s) to {out}"
                          f" ({stats.bad:,} bad lines skipped)")
        print_bad_lines(stats.bad_examples)
