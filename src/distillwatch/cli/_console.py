"""Shared console helpers: progress on stderr, the closing summary table."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from distillwatch.scan import ScanSummary

__all__ = ["err_console", "print_bad_lines", "scan_progress", "summary_table"]

err_console = Console(stderr=True)


def print_bad_lines(examples: Sequence[object], limit: int = 10) -> None:
    """The first bad lines on stderr, each with its file, line and field."""
    for bad in examples[:limit]:
        err_console.print(f"[yellow]bad line[/yellow] {bad}", markup=True, highlight=False)


@contextmanager
def scan_progress(enabled: bool = True) -> Iterator[tuple[Any, Any]]:
    """Yields ``(on_rows, on_stage)`` callbacks that drive a rich progress display."""
    progress = Progress(
        SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(),
        MofNCompleteColumn(), TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
        console=err_console, disable=not enabled, transient=False,
    )
    with progress:
        task = progress.add_task("reading calls", total=None, rate="")
        state = {"n": 0}
        started = progress.get_time()

        def on_rows(n: int) -> None:
            state["n"] += n
            elapsed = max(progress.get_time() - started, 1e-6)
            progress.update(task, completed=state["n"], rate=f"{state['n'] / elapsed:,.0f} calls/s")

        def on_stage(name: str) -> None:
            if name == "replay":  # a second pass over the same calls: count again
                state["n"] = 0
                progress.reset(task, total=None, rate="")
            labels = {"ingest": "reading calls", "profile": "profiling accounts",
                      "score": "scoring accounts", "link": "linking accounts into operations",
                      "report": "writing findings and report",
                      "replay": "scoring calls in time order"}
            progress.update(task, description=labels.get(name, name))

        yield on_rows, on_stage


def summary_table(summary: ScanSummary) -> Table:
    """The closing summary: calls, accounts, verdicts, bad lines, outputs."""
    table = Table(title="distillwatch scan", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value")
    table.add_row("calls read", f"{summary.read.good:,} of {summary.read.rows:,} lines")
    table.add_row("new calls stored", f"{summary.added:,} ({summary.duplicates:,} already there)")
    table.add_row("calls in store", f"{summary.calls:,}")
    table.add_row("accounts", f"{summary.accounts:,}")
    table.add_row("harvesting", f"[red]{summary.harvesting:,}[/red]")
    table.add_row("suspicious", f"[yellow]{summary.suspicious:,}[/yellow]")
    table.add_row("linked operations",
                  f"{summary.clusters:,} ({summary.clustered_accounts:,} accounts)")
    bad = f"{summary.read.bad:,}"
    if summary.read.bad_by_file:
        bad += " (" + ", ".join(f"{f}: {n:,}" for f, n in summary.read.bad_by_file.items()) + ")"
    table.add_row("bad lines", bad)
    if summary.account_file_bad:
        table.add_row("bad account lines", f"{len(summary.account_file_bad):,}")
    total = summary.seconds.get("total")
    if total:
        table.add_row("time", f"{total:.1f} s ({summary.read.good / total:,.0f} calls/s)")
    for name, path in summary.outputs.items():
        table.add_row(name, path)
    return table
