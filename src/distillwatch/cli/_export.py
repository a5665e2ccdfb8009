"""``distillwatch export``."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from distillwatch.cli._console import err_console, print_bad_lines
from distillwatch.errors import InputError
from distillwatch.ingest import ReadStats
from distillwatch.share import FORMATS, OCSF_VERSION
from distillwatch.share import export as write_export

__all__ = ["export"]


@click.command("export")
@click.argument("inputs", nargs=-1, required=True)
@click.option("--to", "fmt", type=click.Choice(FORMATS), default="ocsf", show_default=True,
              help=f"ocsf: OCSF {OCSF_VERSION} Detection Findings (class 2004), one event a "
              "line. otlp: OpenTelemetry logs as OTLP/JSON, one export request a line (what "
              "the Collector's otlpjsonfile receiver reads).")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File for the events, one JSON object per line [default: stdout].")
@click.option("--time", "when", type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z",
                                                     "%Y-%m-%dT%H:%M:%S"]),
              default=None, help="When the scan made its findings (OCSF `time`), UTC unless "
              "an offset is given [default: the first input file's modification time, i.e. "
              "when scan wrote it; the current time for stdin]. Alerts keep their own time.")
@click.option("--strict", is_flag=True, help="Stop at the first bad line instead of skipping it.")
@click.option("--quiet", "-q", is_flag=True, help="No summary on stderr.")
def export(inputs: tuple[str, ...], fmt: str, out: Path | None, when: object, strict: bool,
           quiet: bool) -> None:
    """Turn scan findings and live alerts into events a SIEM or a peer can ingest.

    INPUTS are `findings.jsonl` files from `scan` and alert files from `watch` or the
    gateway (plain, gzip or zstd; globs; - for stdin), mixed as you like. Each line becomes
    one OCSF Detection Finding (severity and risk, the account as actor and observable, the
    first and last call, each reason code as an anomaly beside its population baseline,
    distillwatch's own fields under `unmapped.distillwatch`) or, with --to otlp, one
    OpenTelemetry log record. Prompt and response text is never exported; sample calls are
    named by request id. Bad lines are counted and shown with file, line and field.

    \b
    Example:
      distillwatch export scan-out/findings.jsonl alerts.jsonl --out findings.ocsf.jsonl
      distillwatch export alerts.jsonl --to otlp --out alerts.otlp.jsonl
    """
    from datetime import UTC, datetime

    if isinstance(when, datetime):
        stamp = when if when.tzinfo else when.replace(tzinfo=UTC)
        time_ms = int(stamp.timestamp() * 1000)
    else:
        first = next((p for p in inputs if p != "-" and Path(p).is_file()), None)
        time_ms = int((Path(first).stat().st_mtime if first else time.time()) * 1000)
    stats = ReadStats()
    if out is None:
        written = write_export(inputs, sys.stdout.buffer, to=fmt, time_ms=time_ms,
                               stats=stats, strict=strict)
        sys.stdout.buffer.flush()
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("wb") as stream:
            written = write_export(inputs, stream, to=fmt, time_ms=time_ms, stats=stats,
                                   strict=strict)
    if stats.rows and not written:
        raise InputError(f"no finding or alert in the inputs ({stats.bad:,} bad lines; the "
                         f"first: {stats.bad_examples[0]})", path=", ".join(stats.files))
    if not quiet:
        where = f" to {out}" if out else ""
        what = "OCSF events" if fmt == "ocsf" else "OpenTelemetry log records"
        err_console.print(f"wrote {written:,} {what}{where} from "
                          f"{len(stats.files)} file(s) ({stats.bad:,} bad lines skipped)")
        print_bad_lines(stats.bad_examples)
