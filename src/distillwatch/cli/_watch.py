"""``distillwatch watch``."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from distillwatch.cli._console import err_console, print_bad_lines, scan_progress
from distillwatch.detect._online import OnlineConfig
from distillwatch.errors import ConfigError
from distillwatch.ingest import FORMATS
from distillwatch.watch import WatchOptions, WatchSummary, follow
from distillwatch.watch import watch as run_watch

__all__ = ["watch"]


@click.command("watch")
@click.argument("traffic", nargs=-1)
@click.option("--alerts", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="JSONL file to write one alert per line to.")
@click.option("--accounts", type=click.Path(dir_okay=False), default=None,
              help="Accounts file (created_at and allowlisted are used live).")
@click.option("--follow", "follow_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Tail this growing traffic log instead of replaying TRAFFIC; "
                                 "stop with Ctrl-C or SIGTERM.")
@click.option("--state", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Snapshot file of the detector's state: restored on start if present, "
                   "saved periodically and on exit.")
@click.option("--snapshot-every", type=click.FloatRange(min=1), default=60.0, show_default=True,
              help="Seconds between state snapshots.")
@click.option("--link-every", type=click.FloatRange(min=0), default=24.0, show_default=True,
              help="Hours of traffic time between runs of the link stage in a replay "
                   "(0: never). Ring members then score at least their ring's risk.")
@click.option("--webhook", default=None,
              help="Also POST alert batches as JSON to this URL (retried with backoff; a "
                   "failing endpoint never slows scoring).")
@click.option("--min-calls", type=click.IntRange(min=1), default=OnlineConfig.min_calls,
              show_default=True, help="Calls an account must make before it can be alerted on.")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="DuckDB file for the replayed calls (default: a temporary one).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="traffic",
              show_default=True, help="Input format of TRAFFIC.")
@click.option("--strict", is_flag=True, help="Stop at the first bad line instead of skipping it.")
@click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True,
              help="Processes that parse calls before the replay (0: automatic).")
@click.option("--quiet", "-q", is_flag=True, help="No progress display or summary.")
def watch(traffic: tuple[str, ...], alerts: Path, accounts: str | None,
          follow_path: Path | None, state: Path | None, snapshot_every: float,
          link_every: float, webhook: str | None, min_calls: int, db: Path | None, fmt: str,
          strict: bool, workers: int, quiet: bool) -> None:
    """Score calls as they arrive and alert on harvesting accounts while it happens.

    Replays TRAFFIC (files, folders, globs, - for stdin) in time order as if live, or with
    --follow tails a log that is still being written. Each alert is one JSON line in ALERTS:
    ts, account_id, request_id (the call it was raised at: only calls up to it were used),
    risk, action (alert, throttle, degrade), reasons, calls and output tokens served so far.
    An account is alerted again only when its action escalates, or after its risk fell
    clearly below a step and rose again.

    \b
    Examples:
      distillwatch watch logs/*.jsonl.gz --accounts accounts.jsonl --alerts alerts.jsonl
      distillwatch watch --follow /var/log/api/traffic.jsonl --alerts alerts.jsonl \\
          --state watch.state --webhook https://siem.example/hooks/distillwatch
    """
    if bool(traffic) == bool(follow_path):
        raise ConfigError("give either TRAFFIC files to replay or --follow FILE (not both)")
    options = WatchOptions(alerts=alerts, accounts=accounts, db=db, fmt=fmt, strict=strict,
                           workers=workers, state=state, snapshot_seconds=snapshot_every,
                           link_hours=link_every, webhook=webhook,
                           config=OnlineConfig(min_calls=min_calls))
    if follow_path is not None:
        if not quiet:
            err_console.print(f"following {follow_path} (Ctrl-C to stop)")
        summary = follow(follow_path, options)
    else:
        with scan_progress(enabled=not quiet) as (on_rows, on_stage):
            replayed = {"n": 0}

            def on_replay(n: int) -> None:
                replayed["n"] += n
                on_rows(n)

            summary = run_watch(traffic, options, on_rows=on_rows, on_stage=on_stage,
                                on_replay=on_replay)
    if not quiet:
        err_console.print(_summary_table(summary, alerts))
        print_bad_lines(summary.read.bad_examples)


def _summary_table(summary: WatchSummary, alerts: Path) -> Table:
    table = Table(title="distillwatch watch", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value")
    table.add_row("calls read", f"{summary.read.good:,} of {summary.read.rows:,} lines")
    if summary.restored:
        table.add_row("state", f"restored; {summary.skipped:,} calls already seen were skipped")
    table.add_row("calls scored", f"{summary.replayed:,}")
    table.add_row("accounts", f"{summary.accounts:,}")
    actions = ", ".join(f"{k} {v:,}" for k, v in sorted(summary.by_action.items()))
    table.add_row("alerts", f"[red]{summary.alerts:,}[/red] on {summary.alerted_accounts:,} "
                            f"accounts" + (f" ({actions})" if actions else ""))
    if summary.link_runs:
        table.add_row("linking", f"{summary.link_runs} runs; {summary.operations} operations "
                                 "at the last")
    if summary.webhook is not None:
        w = summary.webhook
        table.add_row("webhook", f"{w['delivered_alerts']:,} delivered, {w['retries']:,} "
                                 f"retries, {w['failed_alerts'] + w['dropped_alerts']:,} "
                                 "not delivered")
    bad = f"{summary.read.bad:,}"
    if summary.read.bad_by_file:
        bad += " (" + ", ".join(f"{f}: {n:,}" for f, n in summary.read.bad_by_file.items()) + ")"
    table.add_row("bad lines", bad)
    state = summary.state_bytes
    if state:
        table.add_row("state memory", f"{state['account_arrays'] / 2**20:,.1f} MiB for "
                      f"{state['accounts']:,} accounts ({state['bytes_per_account_slot']} B "
                      f"each) + sketches {(state['bloom'] + state['countmin']) / 2**20:,.0f} MiB")
    total = summary.seconds.get("total")
    if total:
        replay = summary.seconds.get("replay")
        rate = f", scoring {summary.replayed / replay:,.0f} calls/s" if replay else ""
        table.add_row("time", f"{total:.1f} s{rate}")
    table.add_row("alerts file", str(alerts))
    return table
